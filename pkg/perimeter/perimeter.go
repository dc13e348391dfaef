// Package perimeter renders the guardrail's two controls as AWS Organizations
// policies, so that an outsider is refused and a new role is locked down
// before the enforcer has even seen the change (issue 18):
//
//   - a resource control policy (RCP) that refuses sts:AssumeRole* on every
//     role of the member accounts to callers outside the trust zone the
//     engine uses (pkg/trust), built from the same configuration;
//   - service control policies (SCPs) that carry the lockdown's deny
//     statements (pkg/lockdown, the one source of truth) to every principal
//     of the member accounts except the exempt and protected roles.
//
// Both are coarser than the enforcer: an RCP cannot read a trust policy,
// so it bounds who may call at all; which of those callers a role admits
// stays the enforcer's judgement. The README's "Prevention" section lists
// what each policy blocks and what it cannot.
//
// Documented limits every document here respects:
//
//   - RCPs and SCPs never apply to the management account; RCPs do apply to
//     member accounts that are delegated administrators ("RCPs don't affect
//     resources in the management account. They only affect resources in
//     the member accounts within your organization. However, this also
//     includes member accounts that are designated as delegated
//     administrators", AWS Organizations User Guide, "Resource control
//     policies (RCPs)",
//     https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html),
//     so a hub there is bound by the RCP it deploys, and its callers must
//     be in the zone. Service-linked roles are outside both: RCPs "have no
//     effect on AWS services' capacity to take on a service-linked role"
//     (same page, "Resources and entities not restricted by RCPs"), and
//     SCPs do not affect service-linked roles (AWS Organizations User
//     Guide, "Service control policies (SCPs)"; ../shared/reference/aws-facts.md §6.3).
//   - Only Deny statements: "The effect of Allow is only supported for the
//     RCPFullAWSAccess policy" (AWS Organizations User Guide, "RCP syntax",
//     https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_syntax.html).
//   - Size: see MaxSize.
package perimeter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// MaxSize is the largest document this package writes, in bytes, for both
// policy types. "All characters in your RCP count against its maximum
// size", white space included ("RCP syntax", above; the SCP syntax page
// says the same of SCPs), so documents are written minified. The
// Organizations quotas page gives the maximum size of a policy document
// (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html#min-max-values):
// 5,120 characters for resource control policies, the same number as for
// SCPs, which AWS's own pages also state in bytes ("the policy size limit
// of 5,120 bytes", AWS re:Post knowledge center, "How can I increase the
// SCP character size limit",
// https://repost.aws/knowledge-center/organization-scp-size); the RCP row
// is quoted from the quotas table by the CloudFormation reference ("The
// following AWS Organizations quotas are enforced for the maximum size of a
// policy document: Service control policies: 5,120 characters, Resource
// control policies: 5,120 characters", AWS CloudFormation User Guide,
// AWS::Organizations::Policy, Content) and by FogSecurity/aws-size's README
// ("Organizations | RCPs | Document Size | 5,120 characters"). Documents
// here are ASCII, so bytes and characters agree. On 15 May 2026 AWS raised
// the SCP limit to 10,240 characters and ten SCPs per target (AWS What's
// New, "AWS Organizations increased SCP quotas", 2026-05; reported by
// https://cevo.com.au/post/aws-scp-limits-landing-zone-review/); 5,120 is
// kept for both, so every document also fits an organization that has not
// been raised, and the RCP's own limit is not assumed to have moved.
const MaxSize = 5120

// SizeError reports a document over MaxSize.
type SizeError struct {
	What string // which document
	Size int    // bytes
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("%s is %d characters; an AWS Organizations policy holds at most %d (white space counts)", e.What, e.Size, MaxSize)
}

// document is an Organizations policy document.
type document struct {
	Version   string `json:"Version"`
	Statement []any  `json:"Statement"`
}

// encode returns the minified document holding sts.
func encode(sts []any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(document{Version: "2012-10-17", Statement: sts}); err != nil {
		return nil, fmt.Errorf("encode policy: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// one returns a single value as itself and several as a list: a condition
// value or Action may be either (IAM User Guide, "IAM JSON policy elements:
// Condition"), and the single form is shorter.
func one(vs []string) any {
	if len(vs) == 1 {
		return vs[0]
	}
	return vs
}

// pack puts statements into as few documents as it can, each within
// MaxSize: first-fit decreasing (the largest statement first, each into the
// first document with room), whose documents number at most 11/9 of the
// fewest possible plus one. A Deny's effect
// does not depend on its document or its order among the others, so the
// statements of one document keep their given order and the documents are
// ordered by their first statement. what names a statement in a *SizeError
// when one alone does not fit.
func pack(sts []any, what string) ([][]byte, error) {
	size := make([]int, len(sts))
	for i, st := range sts {
		doc, err := encode([]any{st})
		if err != nil {
			return nil, err
		}
		if len(doc) > MaxSize {
			return nil, &SizeError{What: "a " + what, Size: len(doc)}
		}
		size[i] = len(doc)
	}
	order := make([]int, len(sts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return size[b] - size[a] })
	var bins [][]int
	for _, i := range order {
		placed := false
		for b := range bins {
			members := append(slices.Clone(bins[b]), i)
			slices.Sort(members)
			doc, err := encode(pick(sts, members))
			if err != nil {
				return nil, err
			}
			if len(doc) <= MaxSize {
				bins[b], placed = members, true
				break
			}
		}
		if !placed {
			bins = append(bins, []int{i})
		}
	}
	slices.SortFunc(bins, func(a, b []int) int { return a[0] - b[0] })
	docs := make([][]byte, len(bins))
	for b, members := range bins {
		doc, err := encode(pick(sts, members))
		if err != nil {
			return nil, err
		}
		docs[b] = doc
	}
	return docs, nil
}

func pick(sts []any, idx []int) []any {
	out := make([]any, len(idx))
	for i, j := range idx {
		out[i] = sts[j]
	}
	return out
}
