package iamtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Organization policies: the service control and resource control
// policies of the organization, their attachments to the root, OUs and
// accounts, and the calls that read and change them (Organizations API
// reference: ListPolicies, DescribePolicy, ListTargetsForPolicy,
// CreatePolicy, UpdatePolicy, AttachPolicy, DetachPolicy). Only the two
// types the guardrail deploys are enabled; every call is the management
// account's (delegated administrators are not modelled, as for
// ListAccounts).

// The policy types the stand-in has enabled, and every type ListPolicies
// accepts as its Filter (Organizations API reference, ListPolicies, Filter).
const (
	policyTypeSCP = "SERVICE_CONTROL_POLICY"
	policyTypeRCP = "RESOURCE_CONTROL_POLICY"
)

var knownPolicyTypes = []string{policyTypeSCP, policyTypeRCP, "TAG_POLICY", "BACKUP_POLICY", "AISERVICES_OPT_OUT_POLICY",
	"CHATBOT_POLICY", "DECLARATIVE_POLICY_EC2", "SECURITYHUB_POLICY", "INSPECTOR_POLICY", "UPGRADE_ROLLOUT_POLICY",
	"BEDROCK_POLICY", "S3_POLICY", "NETWORK_SECURITY_DIRECTOR_POLICY", "GUARDDUTY_POLICY"}

// maxPolicyPage is ListPolicies' and ListTargetsForPolicy's largest
// MaxResults ("Valid Range: Minimum value of 1. Maximum value of 20.",
// Organizations API reference, ListTargetsForPolicy).
const maxPolicyPage = 20

// maxPolicyContent is the largest SCP and RCP document: "Service control
// policies: 5,120 characters / Resource control policies: 5,120
// characters" (AWS Organizations User Guide, "Quotas and service limits";
// quoted by pkg/perimeter MaxSize). Larger content is refused with
// ConstraintViolationException, reason POLICY_CONTENT_LIMIT_EXCEEDED
// (Organizations API reference, CreatePolicy).
const maxPolicyContent = 5120

var (
	// A policy ID (Organizations API reference, DescribePolicy, PolicyId:
	// ^p-[0-9a-zA-Z_]{8,128}$).
	policyIDRe = regexp.MustCompile(`^p-[0-9a-zA-Z_]{8,128}$`)
	// Target IDs (AttachPolicy, TargetId): a root, a 12-digit account or
	// an OU.
	targetIDRe = regexp.MustCompile(`^(r-[0-9a-z]{4,32}|[0-9]{12}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$`)
)

// orgPolicy is one policy of the organization.
type orgPolicy struct {
	id, name, description, typ, content string
	awsManaged                          bool
	targets                             []string // in attachment order
}

// orgPolicies is the organization's policy state: its OUs (by ID, with
// their names) and policies, in creation order.
type orgPolicies struct {
	ous      map[string]string
	ouOrder  []string
	policies []*orgPolicy
	created  int
}

// policyState returns the policy state, creating it with the two AWS
// managed policies attached to the root, as an organization with both
// policy types enabled has them: FullAWSAccess (SCPs) and RCPFullAWSAccess
// (RCPs; "RCPFullAWSAccess … is automatically attached to the root, every
// OU and every account", AWS Organizations User Guide, "Resource control
// policies (RCPs)"). Called with mu held.
func (s *Server) policyState() *orgPolicies {
	if s.orgPolicies == nil {
		root := s.rootID()
		s.orgPolicies = &orgPolicies{ous: map[string]string{}, policies: []*orgPolicy{
			{id: "p-FullAWSAccess", name: "FullAWSAccess", typ: policyTypeSCP, awsManaged: true, targets: []string{root},
				description: "Allows access to every operation",
				content:     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
			{id: "p-RCPFullAWSAccess", name: "RCPFullAWSAccess", typ: policyTypeRCP, awsManaged: true, targets: []string{root},
				description: "Allows access to every operation",
				content:     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`},
		}}
	}
	return s.orgPolicies
}

// rootID is the organization root's ID: "r-" and four lowercase letters
// or digits of the organization's ID.
func (s *Server) rootID() string { return "r-" + s.orgID()[2:6] }

// RootID returns the ID of the organization's root (r-…), a target of
// AttachPolicy. It is "" when the server plays no organization.
func (s *Server) RootID() string {
	if !s.organization() {
		return ""
	}
	return s.rootID()
}

// AddOrganizationalUnit adds an organizational unit named name under the
// root, as CreateOrganizationalUnit would, and returns its ID
// (ou-<root>-<8 characters>), a target of AttachPolicy.
func (s *Server) AddOrganizationalUnit(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.policyState()
	id := fmt.Sprintf("ou-%s-%08x", s.rootID()[2:], 0x5eed0000+len(ps.ouOrder))
	ps.ous[id] = name
	ps.ouOrder = append(ps.ouOrder, id)
	return id
}

// orgPolicyOperation runs one policy operation for caller; ok is false for
// an operation that is not one. Called with mu held.
func (s *Server) orgPolicyOperation(op string, body []byte, caller identity) (out any, oe *orgError, ok bool) {
	switch op {
	case "ListPolicies", "DescribePolicy", "ListTargetsForPolicy", "CreatePolicy", "UpdatePolicy", "AttachPolicy", "DetachPolicy":
	default:
		return nil, nil, false
	}
	if caller.account != s.opts.account {
		return nil, &orgError{http.StatusBadRequest, "AccessDeniedException", "You don't have permissions to access this resource."}, true
	}
	var in policyInput
	if len(body) > 0 && json.Unmarshal(body, &in) != nil {
		return nil, &orgError{http.StatusBadRequest, "SerializationException", "The request body is not valid JSON."}, true
	}
	out, oe = s.policyCall(op, in)
	return out, oe, true
}

// policyInput holds the members of every policy operation's request.
type policyInput struct {
	Filter, PolicyID, TargetID, NextToken string
	Name, Description, Content, Type      *string
	MaxResults                            *int
}

// policyCall runs a policy operation. Called with mu held.
func (s *Server) policyCall(op string, in policyInput) (any, *orgError) {
	ps := s.policyState()
	var p *orgPolicy
	if op != "ListPolicies" && op != "CreatePolicy" {
		if !policyIDRe.MatchString(in.PolicyID) {
			return nil, invalidInput("INVALID_PATTERN", "PolicyId must match ^p-[0-9a-zA-Z_]{8,128}$.")
		}
		i := slices.IndexFunc(ps.policies, func(q *orgPolicy) bool { return q.id == in.PolicyID })
		if i < 0 {
			return nil, &orgError{http.StatusBadRequest, "PolicyNotFoundException", "We can't find a policy with the PolicyId that you specified."}
		}
		p = ps.policies[i]
	}
	switch op {
	case "ListPolicies":
		if !slices.Contains(knownPolicyTypes, in.Filter) {
			return nil, invalidInput("INVALID_ENUM", "Filter must be a policy type.")
		}
		var all []any
		for _, q := range ps.policies {
			if q.typ == in.Filter {
				all = append(all, s.policySummary(q))
			}
		}
		return listPage("Policies", all, in)
	case "DescribePolicy":
		return map[string]any{"Policy": s.policyBody(p)}, nil
	case "ListTargetsForPolicy":
		var all []any
		for _, t := range p.targets {
			all = append(all, s.policyTarget(t))
		}
		return listPage("Targets", all, in)
	case "CreatePolicy":
		return s.createPolicy(ps, in)
	case "UpdatePolicy":
		return s.updatePolicy(ps, p, in)
	}
	return s.attachment(ps, p, op == "AttachPolicy", in.TargetID)
}

// createPolicy creates a policy of an enabled type.
func (s *Server) createPolicy(ps *orgPolicies, in policyInput) (any, *orgError) {
	typ := deref(in.Type)
	switch {
	case !slices.Contains(knownPolicyTypes, typ):
		return nil, invalidInput("INVALID_ENUM", "Type must be a policy type.")
	case typ != policyTypeSCP && typ != policyTypeRCP:
		return nil, &orgError{http.StatusBadRequest, "PolicyTypeNotEnabledException", "This operation can be performed only for enabled policy types."}
	}
	if oe := checkPolicyFields(in.Name, in.Description, true); oe != nil {
		return nil, oe
	}
	if oe := checkPolicyContent(typ, in.Content, true); oe != nil {
		return nil, oe
	}
	if oe := ps.nameTaken(nil, typ, *in.Name); oe != nil {
		return nil, oe
	}
	ps.created++
	p := &orgPolicy{id: fmt.Sprintf("p-%010x", uint64(ps.created)*0x9e3779b1), name: *in.Name, description: deref(in.Description), typ: typ, content: *in.Content}
	ps.policies = append(ps.policies, p)
	return map[string]any{"Policy": s.policyBody(p)}, nil
}

// updatePolicy changes a customer policy's name, description or content.
func (s *Server) updatePolicy(ps *orgPolicies, p *orgPolicy, in policyInput) (any, *orgError) {
	if p.awsManaged {
		return nil, &orgError{http.StatusBadRequest, "PolicyChangesNotAllowedException", "Changes to the specified policy are not allowed."}
	}
	if oe := checkPolicyFields(in.Name, in.Description, false); oe != nil {
		return nil, oe
	}
	if oe := checkPolicyContent(p.typ, in.Content, false); oe != nil {
		return nil, oe
	}
	if in.Name != nil {
		if oe := ps.nameTaken(p, p.typ, *in.Name); oe != nil {
			return nil, oe
		}
		p.name = *in.Name
	}
	if in.Description != nil {
		p.description = *in.Description
	}
	if in.Content != nil {
		p.content = *in.Content
	}
	return map[string]any{"Policy": s.policyBody(p)}, nil
}

// nameTaken refuses a name another policy of the type has.
func (ps *orgPolicies) nameTaken(self *orgPolicy, typ, name string) *orgError {
	for _, q := range ps.policies {
		if q != self && q.typ == typ && q.name == name {
			return &orgError{http.StatusBadRequest, "DuplicatePolicyException", "A policy with the same name already exists."}
		}
	}
	return nil
}

// attachment attaches p to target (attach) or detaches it.
func (s *Server) attachment(ps *orgPolicies, p *orgPolicy, attach bool, target string) (any, *orgError) {
	if !targetIDRe.MatchString(target) {
		return nil, invalidInput("INVALID_PATTERN", "TargetId must be a root, OU or account ID.")
	}
	if !s.policyTargetExists(ps, target) {
		return nil, &orgError{http.StatusBadRequest, "TargetNotFoundException", "We can't find a root, OU, account, or email that matches the ID that you specified."}
	}
	i := slices.Index(p.targets, target)
	switch {
	case attach && i >= 0:
		return nil, &orgError{http.StatusBadRequest, "DuplicatePolicyAttachmentException", "The selected policy is already attached to the specified target."}
	case attach:
		p.targets = append(p.targets, target)
	case i < 0:
		return nil, &orgError{http.StatusBadRequest, "PolicyNotAttachedException", "The policy isn't attached to the specified target in the specified root."}
	default:
		p.targets = slices.Delete(p.targets, i, i+1)
	}
	return map[string]any{}, nil
}

// invalidInput is InvalidInputException with its reason (Organizations API
// reference, InvalidInputException: the exception "includes a reason").
func invalidInput(reason, message string) *orgError {
	return &orgError{http.StatusBadRequest, "InvalidInputException", message + " (" + reason + ")"}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// checkPolicyFields checks a policy's name (1-128 characters, required on
// create) and description (at most 512; CreatePolicy, Name and
// Description).
func checkPolicyFields(name, description *string, create bool) *orgError {
	switch {
	case name == nil && create:
		return invalidInput("INPUT_REQUIRED", "Name is required.")
	case name != nil && (len(*name) < 1 || len(*name) > 128):
		return invalidInput("INVALID_INPUT", "Name must be 1 to 128 characters.")
	case description != nil && len(*description) > 512:
		return invalidInput("MAX_LENGTH_EXCEEDED", "Description must be at most 512 characters.")
	}
	return nil
}

// checkPolicyContent checks a policy document: required on create, JSON,
// within maxPolicyContent, and for an RCP only Deny statements ("The effect
// of Allow is only supported for the RCPFullAWSAccess policy", AWS
// Organizations User Guide, "RCP syntax").
func checkPolicyContent(typ string, content *string, create bool) *orgError {
	if content == nil {
		if create {
			return invalidInput("INPUT_REQUIRED", "Content is required.")
		}
		return nil
	}
	if len(*content) > maxPolicyContent {
		return &orgError{http.StatusBadRequest, "ConstraintViolationException",
			"You have exceeded the maximum allowed size of " + strconv.Itoa(maxPolicyContent) + " characters for a policy (POLICY_CONTENT_LIMIT_EXCEEDED)."}
	}
	var doc struct {
		Statement json.RawMessage
	}
	malformed := &orgError{http.StatusBadRequest, "MalformedPolicyDocumentException", "The provided policy document doesn't meet the requirements of the specified policy type."}
	if json.Unmarshal([]byte(*content), &doc) != nil || len(doc.Statement) == 0 {
		return malformed
	}
	var sts []struct{ Effect string }
	if json.Unmarshal(doc.Statement, &sts) != nil {
		var one struct{ Effect string }
		if json.Unmarshal(doc.Statement, &one) != nil {
			return malformed
		}
		sts = append(sts, one)
	}
	for _, st := range sts {
		if st.Effect != "Deny" && (typ == policyTypeRCP || st.Effect != "Allow") {
			return malformed
		}
	}
	return nil
}

// listPage returns one page of all under key, from the position the
// request's NextToken names, with the token of the next page, if any.
func listPage(key string, all []any, in policyInput) (any, *orgError) {
	n := maxPolicyPage
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxPolicyPage {
			return nil, invalidInput("INVALID_INPUT", "MaxResults must be between 1 and 20.")
		}
		n = *in.MaxResults
	}
	start := 0
	if in.NextToken != "" {
		i, err := strconv.Atoi(in.NextToken)
		if err != nil || i < 0 || i > len(all) {
			return nil, invalidInput("INVALID_NEXT_TOKEN", "The NextToken is not valid.")
		}
		start = i
	}
	end := min(start+n, len(all))
	out := map[string]any{key: append([]any{}, all[start:end]...)}
	if end < len(all) {
		out["NextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

// policySummary is a policy as ListPolicies shows it (PolicySummary). The
// ARN of a customer policy names the management account, the organization
// and the type in lowercase; an AWS managed one names "aws" (Service
// Authorization Reference, AWS Organizations, resource types policy and
// awspolicy).
func (s *Server) policySummary(p *orgPolicy) map[string]any {
	arn := "arn:aws:organizations::" + s.opts.account + ":policy/" + s.orgID() + "/" + strings.ToLower(p.typ) + "/" + p.id
	if p.awsManaged {
		arn = "arn:aws:organizations::aws:policy/" + strings.ToLower(p.typ) + "/" + p.id
	}
	return map[string]any{"Id": p.id, "Arn": arn, "Name": p.name, "Description": p.description, "Type": p.typ, "AwsManaged": p.awsManaged}
}

// policyBody is a policy as DescribePolicy, CreatePolicy and UpdatePolicy
// return it (Policy: its summary and content).
func (s *Server) policyBody(p *orgPolicy) map[string]any {
	return map[string]any{"PolicySummary": s.policySummary(p), "Content": p.content}
}

// policyTarget is a target as ListTargetsForPolicy shows it
// (PolicyTargetSummary).
func (s *Server) policyTarget(id string) map[string]any {
	base := "arn:aws:organizations::" + s.opts.account + ":"
	switch {
	case strings.HasPrefix(id, "r-"):
		return map[string]any{"TargetId": id, "Arn": base + "root/" + s.orgID() + "/" + id, "Name": "Root", "Type": "ROOT"}
	case strings.HasPrefix(id, "ou-"):
		return map[string]any{"TargetId": id, "Arn": base + "ou/" + s.orgID() + "/" + id, "Name": s.orgPolicies.ous[id], "Type": "ORGANIZATIONAL_UNIT"}
	}
	return map[string]any{"TargetId": id, "Arn": base + "account/" + s.orgID() + "/" + id, "Name": "account-" + id, "Type": "ACCOUNT"}
}

// policyTargetExists reports whether id is the root, an OU added with
// AddOrganizationalUnit or an account of the organization.
func (s *Server) policyTargetExists(ps *orgPolicies, id string) bool {
	if id == s.rootID() {
		return true
	}
	if _, ok := ps.ous[id]; ok {
		return true
	}
	return s.accounts[id] != nil
}
