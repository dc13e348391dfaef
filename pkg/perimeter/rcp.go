package perimeter

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// Actions of STS that admit a caller into a role.
const (
	actionAssumeRole   = "sts:AssumeRole"
	actionWebIdentity  = "sts:AssumeRoleWithWebIdentity"
	actionAllSTS       = "sts:*"
	principalEveryone  = "*"
	resourceEverything = "*"
)

// rcpStatement is one RCP statement; field order is the JSON order. It has
// either Resource or NotResource.
type rcpStatement struct {
	Sid         string                    `json:"Sid"`
	Effect      string                    `json:"Effect"`
	Principal   string                    `json:"Principal"`
	Action      string                    `json:"Action"`
	Resource    any                       `json:"Resource,omitempty"`
	NotResource any                       `json:"NotResource,omitempty"`
	Condition   map[string]map[string]any `json:"Condition"`
}

// The Sids of the RCP, which the README and the simulation refer to.
const (
	SidOrgIdentities  = "GuardrailOrgIdentities"
	SidConfusedDeputy = "GuardrailConfusedDeputy"
	// SidWebIdentityPrefix starts the Sid of each public web identity
	// provider's statement; SidTenantsPrefix that of each shared OIDC
	// issuer's.
	SidWebIdentityPrefix = "GuardrailWebIdentity"
	SidTenantsPrefix     = "GuardrailOIDCTenants"
)

// publicSids names the statement of each public web identity provider.
var publicSids = map[string]string{
	"cognito-identity.amazonaws.com": "Cognito",
	"accounts.google.com":            "Google",
	"graph.facebook.com":             "Facebook",
	"www.amazon.com":                 "Amazon",
}

// RCPs returns the perimeter resource control policy for the trust zone z,
// minified, as one document or, when it does not fit MaxSize, as several
// (statements packed by pack, every document attached alike; a root, OU
// or account takes a limited number of policies of a type, the default
// policy included: five SCPs, AWS Organizations User Guide, "Managing AWS
// Organizations policies", and TestSizesLargest takes the RCP quota to be
// the same). The
// zone is the engine's (trust.Zone): z.Account is the account
// the guardrail runs in (the hub), z.TrustedOrgIDs must hold the
// organization the policy is attached in (organization mode trusts it by
// default), and every other field keeps the meaning it has for the engine.
// exemptRoles are the engine's exemption globs (GUARDRAIL_EXEMPT_ROLES):
// the engine never touches an exempt role, so neither does the RCP, whose
// statements then name every resource but those roles (NotResource, which
// an RCP "Specifies the AWS resources exempted from the RCP", "RCP syntax";
// the patterns are lockdown.RolePatterns', which match at least every role
// a glob exempts). It returns a *SizeError when one statement alone would
// exceed MaxSize.
//
// The statements, each a Deny on every role but the exempt ones:
//
//   - SidOrgIdentities: sts:AssumeRole by a principal that is neither in a
//     trusted organization nor in a trusted account, unless it is an AWS
//     service. Federation actions are deliberately not in it: federated
//     calls carry no aws:PrincipalOrgID ("The aws:PrincipalOrgID condition
//     key is included in the request context only if the calling principal
//     is a member of an organization. This is not the case with federated
//     users; therefore, sts:AssumeRoleWithSAML and
//     sts:AssumeRoleWithWebIdentity are not listed",
//     aws-samples/data-perimeter-policy-examples,
//     resource_control_policies/README.md, "EnforceOrgIdentities"), and
//     reportedly no aws:PrincipalIsAWSService either, so with the …IfExists
//     operators below such a statement would deny every SAML, Identity
//     Center and OIDC login (issue 18; it broke the Landing Zone
//     Accelerator sample). sts:SetSourceIdentity and sts:TagSession are left
//     out for the same reason: they ride on federated calls that set a
//     source identity or pass session tags (same README).
//     StringNotEqualsIfExists holds when the key is absent, and its keys
//     are AND-ed, so the Deny applies only when the caller matches neither
//     a trusted organization nor a trusted account (the AWS sample's form).
//     BoolIfExists aws:PrincipalIsAWSService "false" lets service principals
//     through; services that call with AWS-owned account credentials
//     instead (aws:PrincipalIsAWSService false: the ELB log-delivery and
//     FinSpace accounts of the same README) are refused unless their
//     account is trusted, exactly as the engine strips them from a trust
//     policy unless it is.
//   - SidConfusedDeputy: any STS action by an AWS service principal acting
//     for an account outside the zone. Keyed on Null aws:SourceAccount
//     "false", as AWS's data-perimeter examples do ("We use aws:SourceAccount
//     instead of aws:SourceOrgID in the Null condition operator so that the
//     control still applies if the request originates from an account that
//     doesn't belong to an organization", same README,
//     "EnforceConfusedDeputyProtection"): aws:SourceAccount is present only
//     when a service principal calls directly ("the aws:SourceAccount
//     condition key is only available when the call to your resource is
//     made directly by an AWS service principal", IAM User Guide, "AWS
//     global condition context keys"), and services that assume a role
//     without it (they check iam:PassRole instead) are left alone.
//   - one statement per public web identity provider (Cognito, Google,
//     Facebook, Login with Amazon): sts:AssumeRoleWithWebIdentity with a
//     token of that provider whose application ID is not a trusted audience
//     (none trusted: every token of it), as the engine keeps such a
//     provider only for trusted audiences.
//   - one statement per shared OIDC issuer that a trusted tenant belongs
//     to (trust.SharedIssuerTenants): sts:AssumeRoleWithWebIdentity with a
//     token of that issuer whose claims name none of the trusted tenants.
//     OIDC provider names are condition-key prefixes and cannot be
//     wildcarded, so each issuer needs its own statement, with Null
//     "<provider>:sub" "false" so that it applies to that issuer's tokens
//     only (the sample's "EnforceTrustedOIDCTenants": "If you need to
//     support multiple multi-tenant OIDC providers, you need to create this
//     statement for each provider with the Null condition operator").
//
// Not covered, and left to the enforcer (README, "Prevention"): which
// principal of the zone a role admits; shared issuers when no trusted
// tenants are configured (the engine then keeps any tenant too) or whose
// tenants none of the trusted ones is (the engine strips them; a statement
// per issuer would not fit); single-tenant OIDC providers such as
// per-cluster EKS issuers, which cannot be listed in advance (the AWS
// sample's "EnforceTrustedOIDCProviders" needs every provider by name:
// that list would have to come from each account's
// ListOpenIDConnectProviders); and SAML providers, which the lockdown SCP
// guards instead by refusing new providers ("To help ensure that only your
// trusted identity providers can be used for SAML federation, limit your
// principals' ability to make configuration changes to the IAM SAML
// identity providers", same README).
func RCPs(z trust.Zone, exemptRoles []string) ([][]byte, error) {
	if err := z.Validate(); err != nil {
		return nil, fmt.Errorf("perimeter: %w", err)
	}
	if len(z.TrustedOrgIDs) == 0 {
		return nil, errors.New("perimeter: the RCP needs the organization it is attached in among the trusted organizations (organization mode trusts it by default)")
	}
	for _, a := range z.TrustedAudiences {
		if err := literalValue(a); err != nil {
			return nil, fmt.Errorf("perimeter: trusted audience %q: %w", a, err)
		}
	}
	partition := z.Partition
	if partition == "" {
		partition = lockdown.DefaultPartition
	}
	var exempt []string
	for _, g := range exemptRoles {
		if err := literalValue(g); err != nil {
			return nil, fmt.Errorf("perimeter: exempt role %q: %w", g, err)
		}
		if strings.Trim(g, "*/") == "" {
			return nil, fmt.Errorf("perimeter: exempt role %q would exempt every role", g)
		}
	}
	if len(exemptRoles) > 0 {
		exempt = dedupe(lockdown.RolePatterns(partition, "*", exemptRoles))
	}
	denyAll := func(sid, action string, cond map[string]map[string]any) rcpStatement {
		st := rcpStatement{Sid: sid, Effect: "Deny", Principal: principalEveryone, Action: action, Condition: cond}
		if len(exempt) > 0 {
			st.NotResource = one(exempt)
		} else {
			st.Resource = resourceEverything
		}
		return st
	}
	orgs := dedupe(z.TrustedOrgIDs)
	accounts := dedupe(append([]string{z.Account}, z.TrustedAccounts...))

	sts := []any{
		denyAll(SidOrgIdentities, actionAssumeRole, map[string]map[string]any{
			"StringNotEqualsIfExists": {"aws:PrincipalOrgID": one(orgs), "aws:PrincipalAccount": one(accounts)},
			"BoolIfExists":            {"aws:PrincipalIsAWSService": "false"},
		}),
		denyAll(SidConfusedDeputy, actionAllSTS, map[string]map[string]any{
			"StringNotEqualsIfExists": {"aws:SourceOrgID": one(orgs), "aws:SourceAccount": one(accounts)},
			"Null":                    {"aws:SourceAccount": "false"},
			"Bool":                    {"aws:PrincipalIsAWSService": "true"},
		}),
	}

	// Public web identity providers, in a fixed order. A provider's
	// claim keys are "<provider>:<claim>" (IAM User Guide, "Available keys
	// for web identity federation").
	public := trust.PublicProviders()
	names := make([]string, 0, len(public))
	for n := range public {
		names = append(names, n)
	}
	sort.Strings(names)
	audiences := dedupe(z.TrustedAudiences)
	for _, n := range names {
		key := n + ":" + public[n]
		cond := map[string]map[string]any{"Null": {key: "false"}}
		if len(audiences) > 0 {
			// StringNotEquals: an application ID is named exactly, and
			// a negated operator with several values is their NOR (IAM
			// User Guide, "Conditions with multiple context keys or
			// values").
			cond["StringNotEquals"] = map[string]any{key: one(audiences)}
		}
		sts = append(sts, denyAll(SidWebIdentityPrefix+publicSids[n], actionWebIdentity, cond))
	}

	// Shared OIDC issuers with trusted tenants. StringNotLike on several
	// claims: the keys are AND-ed and each key's values NOR-ed, so the
	// Deny holds only when no claim matches any pattern of a trusted
	// tenant; a claim absent from the token satisfies its negated
	// operator (IAM User Guide, "Condition operators": negated operators
	// match when the key is absent), so only a matching claim lets the
	// token through.
	for i, tp := range trust.SharedIssuerTenants(z.TrustedOIDCTenants) {
		claims := make([]string, 0, len(tp.Claims))
		for c := range tp.Claims {
			claims = append(claims, c)
		}
		sort.Strings(claims)
		notLike := map[string]any{}
		for _, c := range claims {
			notLike[tp.Provider+":"+c] = one(tp.Claims[c])
		}
		sts = append(sts, denyAll(SidTenantsPrefix+strconv.Itoa(i+1), actionWebIdentity, map[string]map[string]any{
			"StringNotLike": notLike,
			"Null":          {tp.Provider + ":sub": "false"},
		}))
	}

	return pack(sts, "resource control policy statement")
}

// literalValue refuses what IAM would not read as the literal value it is
// meant to be: '$' starts a policy variable ("${…}", IAM User Guide, "IAM
// policy elements: Variables and tags"), and '"' or '\' would need JSON
// escapes.
func literalValue(s string) error {
	for _, r := range s {
		switch {
		case r == '$', r == '"', r == '\\':
			return fmt.Errorf("holds %q, which a perimeter policy cannot carry literally", r)
		case r < 0x20 || r > 0x7e:
			return errors.New("holds a control or non-ASCII character")
		}
	}
	return nil
}

// dedupe returns vs without repeats, in their first order.
func dedupe(vs []string) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
