package perimeter

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/iamguardrail/guardrail/pkg/lockdown"
)

// ControlTowerExecutionRole is the role AWS Control Tower uses to set up and
// update member accounts; Control Tower's own guardrail SCPs exempt it by
// name ("the control has an exception for the AWSControlTowerExecution
// role, which is assumed when baselining AWS accounts", Gruntwork, "Account
// Baseline App with Control Tower Integration",
// https://docs.gruntwork.io/reference/modules/terraform-aws-control-tower/control-tower-app-account-baseline),
// and Control Tower protects it with its own SCPs (CT.IAM.PV.1, AWS Control
// Tower controls reference). Without an exemption the lockdown SCP would
// refuse it the CloudTrail, Config and IAM changes that enrolling an
// account makes, so SCPOptions.ControlTower exempts it, at the root path
// where Control Tower creates it. Opt-in: in an organization without
// Control Tower, no such role exists, and a workload that created one would
// be exempt; with Control Tower, the role exists in every enrolled account
// (a second one of the name cannot be created) and Control Tower's SCPs
// keep it from being changed.
const ControlTowerExecutionRole = "AWSControlTowerExecution"

// reservedRoles matches IAM Identity Center's roles (path
// /aws-reserved/sso.amazonaws.com/): the engine never locks them down
// (classify.AWSManaged), and IAM refuses customer roles on reserved paths,
// so the pattern exempts no role a workload could create.
const reservedRoles = "role/aws-reserved/*"

// SCPOptions says to whom the lockdown SCP does not apply.
type SCPOptions struct {
	// ProtectedRoleARNs are the guardrail's own role ARNs or ARN patterns
	// (GUARDRAIL_PROTECTED_ROLE_ARNS). Roles named by the lockdown's
	// NamePrefix are exempt in any case.
	ProtectedRoleARNs []string
	// ControlTower exempts ControlTowerExecutionRole, for an organization
	// that AWS Control Tower manages.
	ControlTower bool
}

// SCPs returns the lockdown as service control policies, minified, each at
// most MaxSize bytes; all of them are attached together. l is the
// lockdown configuration of the member accounts (pkg/lockdown): its Account
// is replaced by lockdown.PrincipalAccountVariable, so that every resource
// ARN names the account of the principal the SCP is evaluated for, as the
// per-account lockdown names its own; ExemptRoles are the engine's
// exemption globs.
//
// Every lockdown statement is kept (merged where that changes nothing) and
// gets one more condition: ArnNotLike aws:PrincipalArn on the roles the
// engine never locks down, so the SCP binds every other principal of the
// member accounts, IAM users and the root user included: the exempt roles
// (lockdown.RolePatterns of the globs), the guardrail's own roles (its
// NamePrefix, and opts.ProtectedRoleARNs), Identity Center's roles and,
// with opts.ControlTower, ControlTowerExecutionRole. "For IAM roles, the
// request context returns the ARN of the role, not the ARN of the user that
// assumed the role" (IAM
// User Guide, "AWS global condition context keys", aws:PrincipalArn), and a
// principal's ARN always holds its own account, so the patterns take '*' as
// their account. ArnNotLike is the exemption form AWS's own samples and
// Control Tower use (aws-samples/service-control-policy-examples,
// Deny-critical-IAM-user-actions.json; AWS Control Tower controls
// reference, "Controls with parameters": ExemptedPrincipalArns "by way of
// an ArnNotLikeIfExists condition key operator and aws:PrincipalArn").
//
// The exemption is by ARN, not by tag: nothing a principal can set on
// itself exempts it. The one tag the guardrail reads, its write marker, is
// protected by the lockdown's ProtectGuardrailMarker statement, carried
// here like every other; ProtectExemptRoles and ProtectGuardrailRoles keep
// every non-exempt principal from creating, changing, passing or assuming
// a role whose name would make it exempt.
//
// Statements with the same Resource and Condition are merged into one
// listing all their actions, and statements with the same Action and
// Condition into one listing all their resources (a Deny of A on R1 and of
// A on R2 is a Deny of A on both), because the exemption condition repeats
// in every statement. A merged statement keeps the first Sid with "And"
// and the number of statements merged into it. The statements are then
// packed into as few documents as fit MaxSize (pack). An SCP cannot see the
// content of a trust policy being written (no condition key carries it: an
// AWS answer on re:Post, https://repost.aws/questions/QUoQm0Y2MfRKKi_OfjNClV6w,
// ../shared/reference/aws-facts.md §6.3): what a role is made to trust
// stays the enforcer's and the RCP's job.
func SCPs(l lockdown.Config, opts SCPOptions) ([][]byte, error) {
	merged, _, err := build(l, opts)
	if err != nil {
		return nil, err
	}
	sts := make([]any, len(merged))
	for i, st := range merged {
		sts[i] = st
	}
	return pack(sts, "lockdown statement with the exemptions")
}

// build returns the SCP statements, before packing, and the lockdown Sids
// merged into each.
func build(l lockdown.Config, opts SCPOptions) ([]lockdown.Statement, map[string][]string, error) {
	l.Account = lockdown.PrincipalAccountVariable
	sts, err := lockdown.Statements(l)
	if err != nil {
		return nil, nil, fmt.Errorf("perimeter: %w", err)
	}
	partition, prefix := l.Partition, l.NamePrefix
	if partition == "" {
		partition = lockdown.DefaultPartition
	}
	if prefix == "" {
		prefix = lockdown.DefaultNamePrefix
	}
	protected := opts.ProtectedRoleARNs
	if opts.ControlTower {
		protected = append(slices.Clone(protected), "arn:"+partition+":iam::*:role/"+ControlTowerExecutionRole)
	}
	exempt := ExemptPrincipalPatterns(partition, prefix, l.ExemptRoles, protected)
	for i := range sts {
		if sts[i].Condition == nil {
			sts[i].Condition = map[string]map[string]any{}
		}
		if _, ok := sts[i].Condition["ArnNotLike"]; ok {
			return nil, nil, fmt.Errorf("perimeter: lockdown statement %s already has an ArnNotLike condition; the exemption cannot be added to it", sts[i].Sid)
		}
		sts[i].Condition["ArnNotLike"] = map[string]any{"aws:PrincipalArn": one(exempt)}
	}
	merged, sids := merge(sts)
	return merged, sids, nil
}

// MergedSids maps each Sid of the documents SCPs returns to the lockdown
// Sids merged into it, for review and tests.
func MergedSids(l lockdown.Config, opts SCPOptions) (map[string][]string, error) {
	_, sids, err := build(l, opts)
	return sids, err
}

// ExemptPrincipalPatterns returns the aws:PrincipalArn patterns the lockdown
// SCP exempts (see SCPs): the exemption globs as role ARN patterns, the
// guardrail's roles by name prefix, the protected role ARNs, and Identity
// Center's roles, each once, in that order.
func ExemptPrincipalPatterns(partition, namePrefix string, exemptGlobs, protected []string) []string {
	role := "arn:" + partition + ":iam::*:"
	out := lockdown.RolePatterns(partition, "*", exemptGlobs)
	out = append(out, role+"role/"+namePrefix+"-*")
	out = append(out, protected...)
	out = append(out, role+reservedRoles)
	return dedupe(out)
}

// merge joins statements that differ only in Action, then those that differ
// only in Resource; see SCPs.
func merge(sts []lockdown.Statement) ([]lockdown.Statement, map[string][]string) {
	type group struct {
		st   lockdown.Statement
		sids []string // the lockdown Sids merged into st
	}
	key := func(parts ...any) string {
		b, _ := json.Marshal(parts) // strings, lists and maps of them: cannot fail
		return string(b)
	}
	union := func(a, b []string) []string {
		for _, v := range b {
			if !slices.Contains(a, v) {
				a = append(a, v)
			}
		}
		return a
	}
	join := func(gs []group, same func(lockdown.Statement) string, add func(into *lockdown.Statement, from lockdown.Statement)) []group {
		var out []group
		at := map[string]int{}
		for _, g := range gs {
			k := same(g.st)
			if i, ok := at[k]; ok {
				add(&out[i].st, g.st)
				out[i].sids = append(out[i].sids, g.sids...)
				continue
			}
			at[k] = len(out)
			out = append(out, g)
		}
		return out
	}
	gs := make([]group, len(sts))
	for i, st := range sts {
		gs[i] = group{st: st, sids: []string{st.Sid}}
	}
	gs = join(gs,
		func(st lockdown.Statement) string { return key(st.Resource, st.Condition) },
		func(into *lockdown.Statement, from lockdown.Statement) { into.Action = union(into.Action, from.Action) })
	gs = join(gs,
		func(st lockdown.Statement) string { return key(st.Action, st.Condition) },
		func(into *lockdown.Statement, from lockdown.Statement) {
			into.Resource = union(into.Resource, from.Resource)
		})
	out := make([]lockdown.Statement, len(gs))
	sids := map[string][]string{}
	for i, g := range gs {
		out[i] = g.st
		if n := len(g.sids); n > 1 {
			// A Sid holds letters and digits only: the first Sid and
			// how many more were merged into it keep it unique and
			// short.
			out[i].Sid = g.sids[0] + "And" + strconv.Itoa(n-1)
		}
		sids[out[i].Sid] = g.sids
	}
	return out, sids
}
