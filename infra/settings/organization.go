package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/iamguardrail/guardrail/pkg/config"
)

// KeyOrganization is the context key of organization mode (DESIGN.md §11):
// an object whose keys are the Org* constants below. Absent (or null), the
// app builds only the single-account stack.
const KeyOrganization = "organization"

// Keys of the organization object. Errors name them as
// "organization.<key>".
const (
	OrgKeyID             = "organizationId"
	OrgKeyHubAccount     = "hubAccount"
	OrgKeyMemberOUs      = "memberOUs"
	OrgKeyRootID         = "rootId"
	OrgKeyDeployFrom     = "deployFrom"
	OrgKeyTrustedOrgIDs  = "trustedOrgIds"
	OrgKeyMemberAccounts = "memberAccounts"
)

// OrgKeys lists the organization object's keys in documentation order.
var OrgKeys = []string{OrgKeyID, OrgKeyHubAccount, OrgKeyMemberOUs, OrgKeyRootID, OrgKeyDeployFrom, OrgKeyTrustedOrgIDs, OrgKeyMemberAccounts}

// AllMembers is the memberOUs value that targets every account of the
// organization: the StackSet is deployed to the root (rootId).
const AllMembers = "all"

// Where the StackSet is deployed from (deployFrom), and the StackSet's
// CallAs that goes with it (CloudFormation user guide,
// AWS::CloudFormation::StackSet, CallAs: "SELF" for the management account,
// "DELEGATED_ADMIN" for a StackSets delegated administrator).
const (
	DeployFromManagement     = "management"
	DeployFromDelegatedAdmin = "delegatedAdmin"
	CallAsSelf               = "SELF"
	CallAsDelegatedAdmin     = "DELEGATED_ADMIN"
)

// Organization is the validated organization-mode configuration.
type Organization struct {
	// ID is the organization's ID (o-…): the hub bus accepts events only
	// from its accounts (aws:PrincipalOrgID) and the hub assumes member
	// roles only in its accounts (aws:ResourceOrgID).
	ID string
	// HubAccount is the security account the hub stack deploys to.
	HubAccount string
	// Targets are the StackSet's deployment targets: organizational unit
	// IDs, or the root ID for every account (memberOUs "all").
	Targets []string
	// All is true when memberOUs is "all".
	All bool
	// CallAs is CallAsSelf or CallAsDelegatedAdmin.
	CallAs string
	// TrustedOrgIDs, when set, replaces the organization itself as the
	// functions' trusted organizations (GUARDRAIL_TRUSTED_ORG_IDS); nil
	// leaves the default, which the functions read with
	// organizations:DescribeOrganization.
	TrustedOrgIDs []string
	// MemberAccounts, when set, is the list of accounts the sweeper sweeps
	// instead of organizations:ListAccounts.
	MemberAccounts []string
}

var (
	// Organizational unit and root IDs as DeploymentTargets takes them
	// (CloudFormation user guide, AWS::CloudFormation::StackSet
	// DeploymentTargets, OrganizationalUnitIds pattern
	// ^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$).
	ouRe   = regexp.MustCompile(`^ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$`)
	rootRe = regexp.MustCompile(`^r-[a-z0-9]{4,32}$`)
)

// parseOrganization reads the organization object: a JSON object from
// cdk.json, or its JSON text from `cdk -c organization='{…}'`. Absent,
// null and "" give nil.
func parseOrganization(v any, fail func(key string, value any, err error)) *Organization {
	key := func(k string) string { return KeyOrganization + "." + k }
	var obj map[string]any
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		if strings.TrimSpace(x) == "" || strings.TrimSpace(x) == "null" {
			return nil
		}
		if err := json.Unmarshal([]byte(x), &obj); err != nil || obj == nil {
			fail(KeyOrganization, x, fmt.Errorf("want a JSON object, got %q", x))
			return nil
		}
	case map[string]any:
		obj = x
	default:
		fail(KeyOrganization, v, fmt.Errorf("want an object, got %T %v", v, v))
		return nil
	}
	var unknown []string
	for k := range obj {
		if !slices.Contains(OrgKeys, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		fail(key(k), obj[k], fmt.Errorf("unknown key (want one of %s)", strings.Join(OrgKeys, ", ")))
	}

	o := &Organization{CallAs: CallAsSelf}
	get := func(k string) any { return obj[k] }
	required := func(k string, validate func(string) error, dst *string) {
		v, ok, err := str(get(k))
		switch {
		case err != nil:
			fail(key(k), get(k), err)
		case !ok || v == "":
			fail(key(k), "", errors.New("required in organization mode"))
		default:
			if err := validate(v); err != nil {
				fail(key(k), v, err)
			}
			*dst = v
		}
	}
	required(OrgKeyID, config.ValidateOrgID, &o.ID)
	required(OrgKeyHubAccount, config.ValidateAccountID, &o.HubAccount)

	var rootID string
	if v, ok, err := str(get(OrgKeyRootID)); err != nil {
		fail(key(OrgKeyRootID), get(OrgKeyRootID), err)
	} else if ok && v != "" {
		if !rootRe.MatchString(v) {
			fail(key(OrgKeyRootID), v, fmt.Errorf("%q is not an organization root ID (r-…)", v))
		}
		rootID = v
	}
	if s, isStr := get(OrgKeyMemberOUs).(string); isStr && strings.TrimSpace(s) == AllMembers {
		o.All = true
		if rootID == "" {
			fail(key(OrgKeyRootID), "", fmt.Errorf("required when %s is %q: the StackSet targets the organization's root", key(OrgKeyMemberOUs), AllMembers))
		} else {
			o.Targets = []string{rootID}
		}
	} else {
		items, ok, err := strList(get(OrgKeyMemberOUs))
		switch {
		case err != nil:
			fail(key(OrgKeyMemberOUs), get(OrgKeyMemberOUs), err)
		case !ok || len(items) == 0:
			fail(key(OrgKeyMemberOUs), "", fmt.Errorf("required in organization mode: organizational unit IDs (ou-…), or %q with %s", AllMembers, key(OrgKeyRootID)))
		default:
			for _, it := range items {
				if !ouRe.MatchString(it) && !rootRe.MatchString(it) {
					fail(key(OrgKeyMemberOUs), it, fmt.Errorf("%q is not an organizational unit ID (ou-…) or root ID (r-…)", it))
				}
			}
			o.Targets = items
		}
	}

	if v, ok, err := str(get(OrgKeyDeployFrom)); err != nil {
		fail(key(OrgKeyDeployFrom), get(OrgKeyDeployFrom), err)
	} else if ok && v != "" {
		switch v {
		case DeployFromManagement:
			o.CallAs = CallAsSelf
		case DeployFromDelegatedAdmin:
			o.CallAs = CallAsDelegatedAdmin
		default:
			fail(key(OrgKeyDeployFrom), v, fmt.Errorf("%q is neither %q nor %q", v, DeployFromManagement, DeployFromDelegatedAdmin))
		}
	}

	list := func(k string, validate func(string) error) []string {
		items, ok, err := strList(get(k))
		if err != nil {
			fail(key(k), get(k), err)
			return nil
		}
		if !ok || len(items) == 0 {
			return nil
		}
		for _, it := range items {
			if err := validate(it); err != nil {
				fail(key(k), it, err)
			}
		}
		return items
	}
	o.TrustedOrgIDs = list(OrgKeyTrustedOrgIDs, config.ValidateOrgID)
	o.MemberAccounts = list(OrgKeyMemberAccounts, config.ValidateAccountID)
	return o
}

// Env returns the hub functions' organization-mode variables: the member
// role's name (hub mode), the sweeper's account list, and the trusted
// organizations: the override, or "" for the organization itself, which
// the functions read with organizations:DescribeOrganization. The
// single-account trustedOrgIds setting does not reach the hub: it
// configures the IamRoleGuardrail stack (the management account's).
func (o *Organization) Env(memberRoleName string) map[string]string {
	return map[string]string{
		config.EnvMemberRoleName: memberRoleName,
		config.EnvMemberAccounts: strings.Join(o.MemberAccounts, ","),
		config.EnvTrustedOrgIDs:  strings.Join(o.TrustedOrgIDs, ","),
	}
}
