package trust

import (
	"strings"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// sharedIssuer is an OIDC issuer that one SaaS shares among all its
// customers: every customer can obtain a token from it, for any audience, so
// only a claim that names the customer (the tenant) confines a trust policy
// to it. ISSUERS.md lists each issuer with its tenancy, the claim that names
// the owner and the source; this table must stay in step with it.
type sharedIssuer struct {
	// host is the issuer's host, compared without regard to case; path the
	// rest of the issuer URL ("" for none), compared without regard to case
	// and to a trailing '/'.
	host, path string
	// claims are the claims whose values can name the tenant.
	claims []string
	// forms are the value shapes that name the tenant; see ownerForm.
	forms []ownerForm
	// globalKey, when set, is a global condition key that names the tenant
	// instead of a claim (Microsoft Sentinel's sts:RoleSessionName).
	globalKey string
	// requires is the claim (or, with globalKey, the key) IAM requires a
	// trust policy to evaluate before it saves one that trusts the issuer
	// ("Identity-provider controls for shared OIDC providers"), or "" for an
	// issuer not on IAM's list.
	requires string
}

// requiredIn reports whether Allow condition c evaluates the claim IAM
// requires for si, in a form IAM is known to accept: a positive string
// operator (StringEquals, StringEqualsIgnoreCase, StringLike, optionally
// ForAnyValue:, not …IfExists) with a value that is not only wildcards.
// Which other forms IAM accepts is not documented, so a policy relying on
// them is not written.
func (si *sharedIssuer) requiredIn(c policy.Condition, name string) bool {
	if si.requires == "" {
		return true
	}
	for _, op := range c {
		o := parseOp(op.Operator)
		if o.negated || o.ifExists || o.set == setAll || o.kind != opExact && o.kind != opFold && o.kind != opLike {
			continue
		}
		for _, k := range op.Keys {
			key, ok := k.Key, false
			if si.globalKey != "" {
				ok = strings.EqualFold(key, si.globalKey)
			} else {
				ok = len(key) == len(name)+1+len(si.requires) && key[len(name)] == ':' &&
					strings.EqualFold(key[:len(name)], name) && strings.EqualFold(key[len(name)+1:], si.requires)
			}
			if !ok {
				continue
			}
			for _, v := range k.Values {
				if strings.Trim(v, "*?") != "" {
					return true
				}
			}
		}
	}
	return false
}

// ownerForm is a value shape that names a tenant: the value starts with
// prefix, then the tenant's name, then term. A StringLike value names the
// tenant only when its literal part (before the first wildcard) already
// holds the whole form, terminator included: "repo:acme" would also match
// "repo:acme-evil/…". A value without wildcards may end right after the name.
// A form with an empty prefix and no terminator accepts any value without
// wildcards (the claim is the tenant's identifier itself, such as an
// organization name in aud).
type ownerForm struct {
	claim  string
	prefix string
	term   byte
}

// names reports whether s (a literal prefix, or a whole value when exact)
// names the tenant in this form.
func (f ownerForm) names(s string, exact, fold bool) bool {
	rest, ok := s, true
	if fold {
		rest, ok = cutPrefixFold(s, f.prefix)
	} else {
		rest, ok = strings.CutPrefix(s, f.prefix)
	}
	if !ok {
		return false
	}
	if f.term == 0 {
		return exact && rest != ""
	}
	i := strings.IndexByte(rest, f.term)
	switch {
	case i > 0:
		return !strings.ContainsAny(rest[:i], ":/")
	case i < 0 && exact:
		return rest != "" && !strings.ContainsAny(rest, ":/")
	}
	return false
}

// namesOwner reports whether a value of claim names the tenant.
func (si *sharedIssuer) namesOwner(claim, s string, exact, fold bool) bool {
	for _, f := range si.forms {
		if strings.EqualFold(f.claim, claim) && f.names(s, exact, fold) {
			return true
		}
	}
	return false
}

// githubForms are the subject shapes that name a GitHub owner: the default
// template repo:OWNER/REPO:…, and customised templates that start with the
// owner, the owner's ID, or one repository (GitHub Docs, "OpenID Connect
// reference", subject claims and customizing the token claims; GitHub
// escapes ':' inside claim values as %3A, so a ':' always ends a claim).
// job_workflow_ref names the owner of a reusable workflow, which any
// repository may call, so it is not among them.
//
// The token's own owner claims, used as condition keys, pin the owner too:
// a positive operator on a claim IAM does not pass on is false (the key is
// absent), so such a condition either names the owner or admits no one.
var githubForms = []ownerForm{
	{"sub", "repo:", '/'},
	{"sub", "repository:", '/'},
	{"sub", "repository_owner:", ':'},
	{"sub", "repository_owner_id:", ':'},
	{"sub", "repository_id:", ':'},
	{"repository_owner", "", 0},
	{"repository_owner_id", "", 0},
	{"repository_id", "", 0},
	{"repository", "", '/'},
}

var githubClaims = []string{"sub", "repository_owner", "repository_owner_id", "repository_id", "repository"}

// sharedIssuers are the shared OIDC issuers the engine knows (ISSUERS.md).
// An issuer not listed is read as a provider of one tenant: its audience or
// subject pins the caller.
var sharedIssuers = []sharedIssuer{
	{requires: "sub", host: "token.actions.githubusercontent.com", claims: githubClaims, forms: githubForms},
	{requires: "sub", host: "vstoken.actions.githubusercontent.com", claims: githubClaims, forms: githubForms},
	{requires: "sub", host: "oidc-configuration.audit-log.githubusercontent.com", claims: []string{"sub"}, forms: []ownerForm{{"sub", "https://github.com/", '/'}}},
	{requires: "sub", host: "gitlab.com", claims: []string{"sub", "namespace_path", "project_path", "project_id", "namespace_id"},
		forms: []ownerForm{{"sub", "project_path:", '/'}, {"sub", "project_id:", ':'}, {"namespace_path", "", '/'}, {"project_path", "", '/'}, {"project_id", "", 0}, {"namespace_id", "", 0}}},
	{requires: "sub", host: "app.terraform.io", claims: terraformClaims, forms: terraformForms},
	{host: "app.eu.terraform.io", claims: terraformClaims, forms: terraformForms},
	{requires: "sub", host: "agent.buildkite.com", claims: []string{"sub", "organization_slug"}, forms: []ownerForm{{"sub", "organization:", ':'}, {"organization_slug", "", 0}}},
	{requires: "sub", host: "oidc.codefresh.io", claims: []string{"sub"}, forms: []ownerForm{{"sub", "account:", ':'}}},
	{requires: "sub", host: "studio.datachain.ai", path: "api", claims: []string{"sub"}, forms: []ownerForm{{"sub", "credentials:", '/'}}},
	{requires: "sub", host: "scalr.io", claims: []string{"sub"}, forms: []ownerForm{{"sub", "account:", ':'}}},
	{requires: "sub", host: "tokens.cloud.shisho.dev", claims: []string{"sub"}, forms: []ownerForm{{"sub", "job:", ':'}}},
	{requires: "sub", host: "proidc.upbound.io", claims: []string{"sub"}, forms: []ownerForm{{"sub", "mcp:", ':'}}},
	{requires: "aud", host: "api.pulumi.com", path: "oidc", claims: []string{"aud", "sub"}, forms: []ownerForm{{"aud", "", 0}, {"sub", "pulumi:deploy:org:", ':'}, {"sub", "pulumi:environments:org:", ':'}}},
	{requires: "aud", host: "oidc.vercel.com", claims: []string{"aud", "sub"}, forms: []ownerForm{{"aud", "https://vercel.com/", '/'}, {"sub", "owner:", ':'}}},
	{requires: "aud", host: "sandboxes.cloud", claims: []string{"aud"}, forms: []ownerForm{{"aud", "", 0}}},
	{requires: "sts:RoleSessionName", host: "sts.windows.net", path: "33e01921-4d64-4f8c-a055-5bdaffd5e33d", globalKey: "sts:RoleSessionName", forms: []ownerForm{{"sts:RoleSessionName", "", 0}}},
	{requires: "sub", host: "rh-oidc.s3.us-east-1.amazonaws.com", path: "22ejnvnnturfmt6km08idd0nt4hekbn7", claims: []string{"sub"}, forms: turbonomicForms},
	{requires: "sub", host: "rh-oidc.s3.us-east-1.amazonaws.com", path: "23e3sd27sju1hoou6ohfs68vbno607tr", claims: []string{"sub"}, forms: turbonomicForms},
	{requires: "sub", host: "rh-oidc.s3.us-east-1.amazonaws.com", path: "23ne21h005qjl3n33d8dui5dlrmv2tmg", claims: []string{"sub"}, forms: turbonomicForms},
	{requires: "sub", host: "rh-oidc.s3.us-east-1.amazonaws.com", path: "24jrf12m5dj7ljlfb4ta2frhrcoadm26", claims: []string{"sub"}, forms: turbonomicForms},
	{requires: "sub", host: "oidc.op1.openshiftapps.com", path: "2f785sojlpb85i7402pk3qogugim5nfb", claims: []string{"sub"}, forms: turbonomicForms},
	{requires: "sub", host: "oidc.op1.openshiftapps.com", path: "2c51blsaqa9gkjt0o9rt11mle8mmropu", claims: []string{"sub"}, forms: turbonomicForms},
}

var (
	terraformClaims = []string{"sub", "terraform_organization_name", "terraform_organization_id"}
	terraformForms  = []ownerForm{{"sub", "organization:", ':'}, {"terraform_organization_name", "", 0}, {"terraform_organization_id", "", 0}}
)

var turbonomicForms = []ownerForm{{"sub", "system:serviceaccount:", ':'}}

// lookupIssuer returns the shared issuer that provider name (host and path,
// as in an oidc-provider ARN) is, or nil. The host is compared without
// regard to case, as DNS names are; a path makes another issuer (GitHub's
// per-enterprise issuer token.actions.githubusercontent.com/SLUG serves one
// enterprise only).
func lookupIssuer(name string) *sharedIssuer {
	host, path, _ := strings.Cut(name, "/")
	path = strings.TrimRight(path, "/")
	for i := range sharedIssuers {
		si := &sharedIssuers[i]
		if strings.EqualFold(host, si.host) && strings.EqualFold(path, si.path) {
			return si
		}
	}
	return nil
}

// publicIdPs are the public web identity providers IAM accepts by name, with
// the claims that name the application: any user of these providers can
// obtain a token, and an application ID may belong to anyone, so only an
// audience the operator listed as trusted confines the trust (IAM User
// Guide, reference_policies_iam-condition-keys, "Available keys for web
// identity federation"). Google's issuer may also be registered as an OIDC
// provider; it is read the same way.
var publicIdPs = map[string][]string{
	"cognito-identity.amazonaws.com": {"aud"},
	"accounts.google.com":            {"aud"},
	"graph.facebook.com":             {"aud", "app_id"},
	"www.amazon.com":                 {"aud", "app_id"},
}

// publicIdP returns the canonical name and audience claims of a public web
// identity provider, compared without regard to case.
func publicIdP(name string) (string, []string, bool) {
	for n, claims := range publicIdPs {
		if strings.EqualFold(strings.TrimRight(name, "/"), n) {
			return n, claims, true
		}
	}
	return "", nil, false
}
