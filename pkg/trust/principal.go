package trust

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// The start of a subject claim that pins a tenant: claim:owner/ or
// claim:owner: with no wildcard in the owner (repo:my-org/…,
// project_path:group/…, organization:my-org:…).
var tenantSubRE = regexp.MustCompile(`^[A-Za-z_]+:[^*?/:]+[/:]`)

// isUniqueID reports whether v is a role (AROA…) or user (AIDA…) unique ID.
// IAM stores a principal by this ID and shows it bare once the principal is
// deleted; recreating a same-named principal does not restore the trust (IAM
// User Guide, id_roles_create_policy-examples), so a bare ID grants nothing.
func isUniqueID(v string) bool {
	if len(v) < 16 || (v[:4] != "AROA" && v[:4] != "AIDA") {
		return false
	}
	for i := 4; i < len(v); i++ {
		if c := v[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isIAMName reports whether v is an IAM name, or a path and name: letters,
// digits and +=,.@_- in non-empty segments separated by '/'.
func isIAMName(v string) bool {
	seg := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("+=,.@_-", c) >= 0:
			seg++
		case c == '/' && seg > 0:
			seg = 0
		default:
			return false
		}
	}
	return seg > 0
}

// isServiceName reports whether v is an AWS service principal: a DNS name
// under amazonaws.com (amazonaws.com.cn in the China partitions), compared
// without regard to case as DNS names are.
func isServiceName(v string) bool {
	host, ok := cutSuffixFold(v, ".amazonaws.com")
	if !ok {
		if host, ok = cutSuffixFold(v, ".amazonaws.com.cn"); !ok {
			return false
		}
	}
	for rest, more := host, true; more; {
		var label string
		label, rest, more = strings.Cut(rest, ".")
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i] | 0x20; !(c >= 'a' && c <= 'z' || label[i] >= '0' && label[i] <= '9' || label[i] == '-') {
				return false
			}
		}
	}
	return true
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if len(s) > len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

// publicIdPs are the public web identity providers IAM accepts by name, with
// the condition keys that pin the application: any user of these providers
// can obtain a token, so only an audience (application ID) condition makes
// the trust specific (IAM User Guide, reference_policies_iam-condition-keys,
// "Available keys for web identity federation").
var publicIdPs = map[string][]string{
	"cognito-identity.amazonaws.com": {"aud"},
	"accounts.google.com":            {"aud"},
	"graph.facebook.com":             {"aud", "app_id"},
	"www.amazon.com":                 {"aud", "app_id"},
}

// multiTenantOIDC are OIDC issuers shared by every customer of a SaaS: any
// tenant can mint a token with any audience, so only a subject condition that
// names the tenant restricts who may assume the role (GitHub documents
// token.actions.githubusercontent.com:sub for exactly this reason).
var multiTenantOIDC = []string{"token.actions.githubusercontent.com", "gitlab.com", "app.terraform.io"}

// conditions is what a statement's Condition block says about principals.
type conditions struct {
	cond policy.Condition
	zone Zone
	// restricted caches restrictedBy once computed is set; most statements
	// name only services and never need it.
	restricted string
	computed   bool
}

func readConditions(c policy.Condition, z Zone) conditions {
	return conditions{cond: c, zone: z}
}

// restrictedBy names the condition that confines the statement's principals
// to the zone, or returns "" when there is none.
func (c *conditions) restrictedBy() string {
	if !c.computed {
		c.restricted, c.computed = principalRestriction(c.cond, c.zone), true
	}
	return c.restricted
}

// judge gives the verdict on the principal value p.Type/p.Value, in place:
// records are large, and a policy has many.
func judge(p *Principal, c *conditions, z Zone) {
	switch p.Type {
	case "*":
		p.Kind = KindWildcard
		restrictedOrNot(p, c, "\"Principal\": \"*\" admits every AWS principal")
		return
	case "AWS":
		judgeAWS(p, c, z)
		return
	case "Service":
		judgeService(p, c, z)
		return
	case "Federated":
		judgeFederated(p, c, z)
		return
	case "CanonicalUser":
		p.Kind, p.Reason = KindInvalid, "CanonicalUser is an S3 ACL grantee, not a valid principal in a role trust policy"
	default:
		p.Kind, p.Reason = KindInvalid, fmt.Sprintf("unknown principal type %q", p.Type)
	}
}

// restrictedOrNot trusts p only when the statement confines principals to the zone.
func restrictedOrNot(p *Principal, c *conditions, why string) {
	if by := c.restrictedBy(); by != "" {
		p.Trusted = true
		p.Reason = why + ", but the Condition " + by + " confines it to trusted accounts or organizations"
		return
	}
	p.Reason = why + " and no Condition confines it to trusted accounts or organizations"
}

func judgeAWS(p *Principal, c *conditions, z Zone) {
	v := p.Value
	switch {
	case v == "*":
		p.Kind = KindWildcard
		restrictedOrNot(p, c, "\"AWS\": \"*\" admits every AWS principal")
		return
	case isAccountID(v):
		p.Account = v
	case strings.HasPrefix(v, "arn:"):
		a, why := parsePrincipalARN(v, z)
		if why != "" {
			p.Kind, p.Reason = KindInvalid, why
			return
		}
		p.Account = a.account
	case isUniqueID(v):
		p.Kind = KindDangling
		p.Reason = "bare unique ID: IAM shows this when the principal it named was deleted; it grants nothing"
		return
	default:
		p.Kind, p.Reason = KindInvalid, "not an account ID, a principal ARN or \"*\""
		return
	}
	p.Kind = z.accountKind(p.Account)
	switch p.Kind {
	case KindSameAccount:
		p.Trusted, p.Reason = true, "principal of this account"
	case KindTrustedAccount:
		p.Trusted, p.Reason = true, "principal of a trusted account"
	default:
		restrictedOrNot(p, c, "account "+p.Account+" is neither this account nor a trusted one")
		return
	}
}

// splitARN splits an ARN into its six colon-separated fields (the last one,
// the resource, may hold more colons) without allocating.
func splitARN(v string) (f [6]string, ok bool) {
	rest := v
	for i := range 5 {
		if f[i], rest, ok = strings.Cut(rest, ":"); !ok {
			return f, false
		}
	}
	f[5] = rest
	return f, f[0] == "arn"
}

type principalARN struct {
	partition, service, account, resource string
}

// parsePrincipalARN reads an IAM or STS principal ARN and returns why it is
// not a valid principal of the zone's partition, or "".
func parsePrincipalARN(v string, z Zone) (principalARN, string) {
	f, ok := splitARN(v)
	if !ok {
		return principalARN{}, "malformed ARN"
	}
	a := principalARN{partition: f[1], service: f[2], account: f[4], resource: f[5]}
	switch {
	case f[3] != "":
		return a, "malformed principal ARN: IAM and STS ARNs have no region"
	case !isAccountID(a.account):
		return a, "malformed principal ARN: the account field is not a 12-digit account ID"
	case a.partition != z.partition():
		return a, fmt.Sprintf("principal ARN in partition %q, not the role's partition %q", a.partition, z.partition())
	}
	kind, name, _ := strings.Cut(a.resource, "/")
	ok = false
	switch a.service {
	case "iam":
		switch kind {
		case "root":
			ok = a.resource == "root"
		case "role", "user":
			ok = isIAMName(name)
		}
	case "sts":
		switch kind {
		case "assumed-role":
			role, session, found := strings.Cut(name, "/")
			ok = found && isIAMName(role) && !strings.Contains(role, "/") && isIAMName(session) && !strings.Contains(session, "/")
		case "federated-user":
			ok = isIAMName(name) && !strings.Contains(name, "/")
		}
	}
	if !ok {
		return a, "malformed principal ARN: not an account root, role, user, assumed-role or federated-user (wildcards are not allowed here)"
	}
	return a, ""
}

func judgeService(p *Principal, c *conditions, z Zone) {
	p.Kind = KindService
	if !isServiceName(p.Value) {
		p.Kind, p.Reason = KindInvalid, "not an AWS service principal name (…amazonaws.com)"
		return
	}
	foreign, pinned := sourceConditions(c.cond, z)
	if foreign != "" {
		p.Reason = "the service acts for a foreign account: " + foreign
		return
	}
	p.Trusted = true
	if pinned != "" {
		p.Reason = "AWS service principal, confined by " + pinned
		return
	}
	p.Reason = "AWS service principal"
	p.Risk = "no aws:SourceAccount, aws:SourceArn or aws:SourceOrgID condition confines the service to this account (confused-deputy risk)"
}

func judgeFederated(p *Principal, c *conditions, z Zone) {
	p.Kind = KindFederated
	v := p.Value
	if keys, ok := publicIdPs[v]; ok {
		if by := audienceCondition(c.cond, v, keys); by != "" {
			p.Trusted, p.Reason = true, "public web identity provider confined to one application by "+by
			return
		}
		p.Reason = "public web identity provider without a StringEquals " + v + ":" + strings.Join(keys, "/") + " condition admits every user of " + v
		return
	}
	if !strings.HasPrefix(v, "arn:") {
		p.Kind, p.Reason = KindInvalid, "not an identity provider ARN or a known web identity provider"
		return
	}
	f, ok := splitARN(v)
	if !ok || f[2] != "iam" || f[3] != "" || !isAccountID(f[4]) {
		p.Kind, p.Reason = KindInvalid, "malformed identity provider ARN"
		return
	}
	if f[1] != z.partition() {
		p.Kind, p.Reason = KindInvalid, fmt.Sprintf("identity provider in partition %q, not the role's partition %q", f[1], z.partition())
		return
	}
	p.Account = f[4]
	kind, name, _ := strings.Cut(f[5], "/")
	if name == "" || strings.ContainsAny(name, "*?") || (kind != "saml-provider" && kind != "oidc-provider") {
		p.Kind, p.Reason = KindInvalid, "malformed identity provider ARN: expected saml-provider/NAME or oidc-provider/HOST"
		return
	}
	if !z.trustsAccount(p.Account) {
		p.Reason = "identity provider in account " + p.Account + ", which is neither this account nor a trusted one"
		return
	}
	if kind == "saml-provider" {
		p.Trusted, p.Reason = true, "SAML provider of "+accountWord(z, p.Account)
		return
	}
	by, need := oidcConstraint(c.cond, name)
	if by == "" {
		p.Reason = "OIDC provider without " + need + " admits every identity the provider issues tokens for"
		return
	}
	p.Trusted, p.Reason = true, "OIDC provider of "+accountWord(z, p.Account)+", confined by "+by
}

func accountWord(z Zone, id string) string {
	if id == z.Account {
		return "this account"
	}
	return "trusted account " + id
}
