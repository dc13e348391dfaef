package trust

import (
	"fmt"
	"strings"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// sharedIssuer is an OIDC issuer that one SaaS shares among all its
// customers: every customer can obtain a token from it, for any audience, so
// only a claim that names the customer (the tenant) confines a trust policy
// to it. ISSUERS.md lists each issuer with its tenancy, the claim that names
// the owner, the claim IAM requires on write and the sources; this table
// must stay in step with it.
type sharedIssuer struct {
	// host is the issuer's host, compared without regard to case; path the
	// rest of the issuer URL ("" for none), compared without regard to case
	// and to a trailing '/'.
	host, path string
	// claims are the claims whose values can name the tenant: the subject,
	// and the provider-specific claims STS evaluates as condition keys that
	// pin the tenant (stsKeys).
	claims []string
	// forms are the value shapes that name the tenant; see ownerForm.
	forms []ownerForm
	// otherKeys are the further claims STS evaluates for this issuer that
	// name no tenant (aud, environment, actor, …). A key under the issuer
	// that is in neither list is one STS is not known to evaluate.
	otherKeys []string
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
// ForAnyValue:, not …IfExists, not ForAllValues:) with a value that is not
// only wildcards. Which other forms IAM accepts is not documented, so a
// policy relying on them is not written (ISSUERS.md, "ForAllValues: on a
// single-valued claim").
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
	// tenant is the kind of identifier the form names, as an entry of
	// GUARDRAIL_TRUSTED_OIDC_TENANTS spells it (github, github-id, gitlab, …).
	tenant string
	// label names the form in reasons.
	label string
	// github marks GitHub's repo:OWNER/… subject, whose owner segment may be
	// the immutable OWNER@OWNER_ID (see githubOwner).
	github bool
}

// tenantRef is the tenant a condition value names.
type tenantRef struct {
	form *ownerForm
	// name is the identifier of kind form.tenant; id, when set, the GitHub
	// owner ID an immutable subject carries beside the name.
	name, id string
	// immutable is set for GitHub's repo:OWNER@OWNER_ID/… subject.
	immutable bool
	// fold is set when the value was compared without regard to case
	// (StringEqualsIgnoreCase).
	fold bool
}

// String renders the tenant as trusted-tenant entries: "github:acme", or
// "github:acme (github-id:123)" for an immutable subject.
func (t tenantRef) String() string {
	s := t.form.tenant + ":" + t.name
	if t.id != "" {
		s += " (" + tenantGitHubID + ":" + t.id + ")"
	}
	return s
}

// describe names the tenant and the form it was recognised in.
func (t tenantRef) describe() string {
	label := t.form.label
	if t.immutable {
		label = "GitHub immutable subject repo:OWNER@OWNER_ID/REPO@REPO_ID"
	}
	return t.String() + ", named by the " + label
}

// owner returns the tenant s (a literal prefix, or a whole value when
// exact) names in this form.
func (f *ownerForm) owner(s string, exact, fold bool) (tenantRef, bool) {
	rest, ok := s, true
	if fold {
		rest, ok = cutPrefixFold(s, f.prefix)
	} else {
		rest, ok = strings.CutPrefix(s, f.prefix)
	}
	if !ok {
		return tenantRef{}, false
	}
	if f.term == 0 {
		return tenantRef{form: f, name: rest}, exact && rest != ""
	}
	seg := ""
	switch i := strings.IndexByte(rest, f.term); {
	case i > 0:
		seg = rest[:i]
	case i < 0 && exact:
		seg = rest
	case i < 0 && f.github:
		// "repo:acme@…": '@' cannot occur in a GitHub name, so the literal
		// part already ends the owner's name (the ID may follow).
		if at := strings.IndexByte(rest, '@'); at > 0 && !strings.ContainsAny(rest[:at], ":/") {
			return tenantRef{form: f, name: rest[:at], immutable: true}, true
		}
		return tenantRef{}, false
	default:
		return tenantRef{}, false
	}
	if seg == "" || strings.ContainsAny(seg, ":/") {
		return tenantRef{}, false
	}
	if f.github && strings.IndexByte(seg, '@') >= 0 {
		return githubOwner(f, seg)
	}
	return tenantRef{form: f, name: seg}, true
}

// githubOwner reads the owner segment OWNER@OWNER_ID of GitHub's immutable
// subject: "Syntax: repo:OWNER@OWNER-ID/REPO@REPO-ID:ref:refs/heads/BRANCH
// … The @ separator is used between names and IDs because @ cannot appear
// in GitHub usernames or repository names" (GitHub Docs, "OpenID Connect
// reference", immutable subject claims). A segment of another shape names
// no owner the engine can tell.
func githubOwner(f *ownerForm, seg string) (tenantRef, bool) {
	name, id, _ := strings.Cut(seg, "@")
	if name == "" || !isDigits(id) {
		return tenantRef{}, false
	}
	return tenantRef{form: f, name: name, id: id, immutable: true}, true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// owner returns the tenant a value of claim names, if any.
func (si *sharedIssuer) owner(claim, s string, exact, fold bool) (tenantRef, bool) {
	for i := range si.forms {
		f := &si.forms[i]
		if strings.EqualFold(f.claim, claim) {
			if t, ok := f.owner(s, exact, fold); ok {
				return t, true
			}
		}
	}
	return tenantRef{}, false
}

// stsEvaluates reports whether STS is known to evaluate claim as a
// condition key for tokens of si.
func (si *sharedIssuer) stsEvaluates(claim string) bool {
	for _, list := range [][]string{si.claims, si.otherKeys, genericKeys} {
		for _, c := range list {
			if strings.EqualFold(c, claim) {
				return true
			}
		}
	}
	return false
}

// genericKeys are the claims STS evaluates for every OIDC provider (IAM User
// Guide, reference_policies_iam-condition-keys, "Available keys for OIDC
// federation": aud, oaud, sub, amr).
var genericKeys = []string{"aud", "oaud", "sub", "amr"}

// The kinds of trusted tenant (GUARDRAIL_TRUSTED_OIDC_TENANTS entries are
// KIND:IDENTIFIER). The ID kinds hold numbers.
const (
	tenantGitHub           = "github"
	tenantGitHubID         = "github-id"
	tenantGitHubRepoID     = "github-repo-id"
	tenantGitHubEnterprise = "github-enterprise-id"
	tenantGitLab           = "gitlab"
	tenantGitLabProjectID  = "gitlab-project-id"
	tenantGitLabNamespace  = "gitlab-namespace-id"
)

// numericTenants are the tenant kinds whose identifiers are numbers.
var numericTenants = map[string]bool{tenantGitHubID: true, tenantGitHubRepoID: true, tenantGitHubEnterprise: true,
	tenantGitLabProjectID: true, tenantGitLabNamespace: true}

// githubForms are the subject shapes that name a GitHub owner: the default
// template repo:OWNER/REPO:… (or, for repositories created, renamed or
// transferred after 2026-07-15, repo:OWNER@OWNER_ID/REPO@REPO_ID:…), and
// customised templates that start with the owner, the owner's ID, or one
// repository (GitHub Docs, "OpenID Connect reference", subject claims,
// immutable subject claims and customizing the token claims; GitHub escapes
// ':' inside claim values as %3A, so a ':' always ends a claim).
// job_workflow_ref names the owner of a reusable workflow, which any
// repository may call, so it is not among them.
//
// The provider-specific claims STS evaluates (githubSTSKeys) that pin the
// owner complete the list: repository (OWNER/REPO), repository_owner_id,
// repository_id and enterprise_id.
var githubForms = []ownerForm{
	{claim: "sub", prefix: "repo:", term: '/', tenant: tenantGitHub, label: "GitHub subject repo:OWNER/REPO", github: true},
	{claim: "sub", prefix: "repository:", term: '/', tenant: tenantGitHub, label: "GitHub subject repository:OWNER/REPO"},
	{claim: "sub", prefix: "repository_owner:", term: ':', tenant: tenantGitHub, label: "GitHub customised subject repository_owner:OWNER"},
	{claim: "sub", prefix: "repository_owner_id:", term: ':', tenant: tenantGitHubID, label: "GitHub customised subject repository_owner_id:ID"},
	{claim: "sub", prefix: "repository_id:", term: ':', tenant: tenantGitHubRepoID, label: "GitHub customised subject repository_id:ID"},
	{claim: "repository", term: '/', tenant: tenantGitHub, label: "STS claim key repository (OWNER/REPO)"},
	{claim: "repository_owner_id", tenant: tenantGitHubID, label: "STS claim key repository_owner_id"},
	{claim: "repository_id", tenant: tenantGitHubRepoID, label: "STS claim key repository_id"},
	{claim: "enterprise_id", tenant: tenantGitHubEnterprise, label: "STS claim key enterprise_id"},
}

// githubSTSKeys are the GitHub claims STS evaluates as condition keys since
// 2026, verbatim from the Service Authorization Reference for AWS STS
// (sts:AssumeRoleWithWebIdentity, keys token.actions.githubusercontent.com:…;
// announced in AWS What's New "AWS STS supports validation of identity
// provider claims", 2026-02-02): actor, actor_id, enterprise_id,
// environment, job_workflow_ref, ref, repository, repository_id,
// repository_owner_id, workflow. repository_owner (by name) is not among
// them: a condition on it is on a key STS does not evaluate.
var (
	githubClaims    = []string{"sub", "repository", "repository_owner_id", "repository_id", "enterprise_id"}
	githubOtherKeys = []string{"actor", "actor_id", "environment", "job_workflow_ref", "ref", "workflow"}
)

// gitlabSTSKeys: Service Authorization Reference for AWS STS, keys
// gitlab.com:namespace_id, pipeline_source, project_id, ref_protected,
// runner_environment, user_access_level, user_email, user_id, user_login.
// project_id and namespace_id pin one project or namespace; the others name
// no tenant.
var (
	gitlabClaims    = []string{"sub", "project_id", "namespace_id"}
	gitlabOtherKeys = []string{"pipeline_source", "ref_protected", "runner_environment", "user_access_level", "user_email", "user_id", "user_login"}
	gitlabForms     = []ownerForm{
		{claim: "sub", prefix: "project_path:", term: '/', tenant: tenantGitLab, label: "GitLab subject project_path:GROUP/PROJECT"},
		{claim: "sub", prefix: "project_id:", term: ':', tenant: tenantGitLabProjectID, label: "GitLab subject project_id:ID"},
		{claim: "project_id", tenant: tenantGitLabProjectID, label: "STS claim key project_id"},
		{claim: "namespace_id", tenant: tenantGitLabNamespace, label: "STS claim key namespace_id"},
	}
)

// buildkiteSTSKeys: Service Authorization Reference for AWS STS, keys
// agent.buildkite.com:build_branch, cluster_id, cluster_name,
// organization_id, organization_slug, pipeline_id, pipeline_slug. The
// organization's slug and UUID name it; a pipeline or cluster UUID pins one
// pipeline or cluster, hence one organization; branch, cluster name and
// pipeline slug are unique only within an organization.
var (
	buildkiteClaims    = []string{"sub", "organization_slug", "organization_id", "pipeline_id", "cluster_id"}
	buildkiteOtherKeys = []string{"build_branch", "cluster_name", "pipeline_slug"}
	buildkiteForms     = []ownerForm{
		{claim: "sub", prefix: "organization:", term: ':', tenant: "buildkite", label: "Buildkite subject organization:ORG"},
		{claim: "organization_slug", tenant: "buildkite", label: "STS claim key organization_slug"},
		{claim: "organization_id", tenant: "buildkite-org-id", label: "STS claim key organization_id"},
		{claim: "pipeline_id", tenant: "buildkite-pipeline-id", label: "STS claim key pipeline_id"},
		{claim: "cluster_id", tenant: "buildkite-cluster-id", label: "STS claim key cluster_id"},
	}
)

var (
	terraformForms  = []ownerForm{{claim: "sub", prefix: "organization:", term: ':', tenant: "terraform", label: "HCP Terraform subject organization:ORG"}}
	turbonomicForms = []ownerForm{{claim: "sub", prefix: "system:serviceaccount:", term: ':', tenant: "turbonomic", label: "Turbonomic subject system:serviceaccount:TENANT"}}
	subOnly         = []string{"sub"}
)

// sharedIssuers are the shared OIDC issuers the engine knows (ISSUERS.md).
// An issuer not listed is read as a provider of one tenant: its audience or
// subject pins the caller. requires follows the table of the IAM User Guide
// page "Identity-provider controls for shared OIDC providers"; where AWS's
// shared-issuer RCP sample uses sub instead (Pulumi, Vercel), the page is
// followed: it states the write rule, the sample is a perimeter policy.
var sharedIssuers = []sharedIssuer{
	{requires: "sub", host: "token.actions.githubusercontent.com", claims: githubClaims, otherKeys: githubOtherKeys, forms: githubForms},
	{requires: "sub", host: "vstoken.actions.githubusercontent.com", claims: subOnly, forms: githubForms[:5]},
	{requires: "sub", host: "oidc-configuration.audit-log.githubusercontent.com", claims: subOnly,
		forms: []ownerForm{{claim: "sub", prefix: "https://github.com/", term: '/', tenant: "github-enterprise", label: "GitHub audit-log subject https://github.com/ENTERPRISE"}}},
	{requires: "sub", host: "gitlab.com", claims: gitlabClaims, otherKeys: gitlabOtherKeys, forms: gitlabForms},
	{requires: "sub", host: "app.terraform.io", claims: subOnly, forms: terraformForms},
	{host: "app.eu.terraform.io", claims: subOnly, forms: terraformForms},
	{requires: "sub", host: "agent.buildkite.com", claims: buildkiteClaims, otherKeys: buildkiteOtherKeys, forms: buildkiteForms},
	{requires: "sub", host: "oidc.codefresh.io", claims: subOnly, forms: []ownerForm{{claim: "sub", prefix: "account:", term: ':', tenant: "codefresh", label: "Codefresh subject account:ID"}}},
	{requires: "sub", host: "studio.datachain.ai", path: "api", claims: subOnly, forms: []ownerForm{{claim: "sub", prefix: "credentials:", term: '/', tenant: "datachain", label: "DataChain subject credentials:TEAM/"}}},
	{requires: "sub", host: "scalr.io", claims: subOnly, forms: []ownerForm{{claim: "sub", prefix: "account:", term: ':', tenant: "scalr", label: "Scalr subject account:NAME"}}},
	{requires: "sub", host: "tokens.cloud.shisho.dev", claims: subOnly, forms: []ownerForm{{claim: "sub", prefix: "job:", term: ':', tenant: "shisho", label: "Shisho Cloud subject job:ORG"}}},
	{requires: "sub", host: "proidc.upbound.io", claims: subOnly, forms: []ownerForm{{claim: "sub", prefix: "mcp:", term: ':', tenant: "upbound", label: "Upbound subject mcp:ORG"}}},
	{requires: "aud", host: "api.pulumi.com", path: "oidc", claims: []string{"aud", "sub"}, forms: []ownerForm{
		// ESC's aws-login: "api.pulumi.com/oidc:aud": "aws:myorg" (Pulumi ESC docs).
		{claim: "aud", prefix: "aws:", tenant: "pulumi", label: "Pulumi ESC audience aws:ORG"},
		{claim: "aud", tenant: "pulumi", label: "Pulumi audience (the organization)"},
		{claim: "sub", prefix: "pulumi:deploy:org:", term: ':', tenant: "pulumi", label: "Pulumi subject pulumi:deploy:org:ORG"},
		{claim: "sub", prefix: "pulumi:environments:org:", term: ':', tenant: "pulumi", label: "Pulumi subject pulumi:environments:org:ORG"}}},
	{requires: "aud", host: "oidc.vercel.com", claims: []string{"aud", "sub"}, forms: []ownerForm{
		{claim: "aud", prefix: "https://vercel.com/", term: '/', tenant: "vercel", label: "Vercel audience https://vercel.com/TEAM"},
		{claim: "sub", prefix: "owner:", term: ':', tenant: "vercel", label: "Vercel subject owner:TEAM"}}},
	{requires: "aud", host: "sandboxes.cloud", claims: []string{"aud"}, forms: []ownerForm{{claim: "aud", tenant: "sandboxes", label: "sandboxes.cloud audience (the organization)"}}},
	{requires: "sts:RoleSessionName", host: "sts.windows.net", path: "33e01921-4d64-4f8c-a055-5bdaffd5e33d", globalKey: "sts:RoleSessionName",
		forms: []ownerForm{{claim: "sts:RoleSessionName", tenant: "azure-sentinel", label: "sts:RoleSessionName"}}},
	{requires: "sub", host: "rh-oidc.s3.us-east-1.amazonaws.com", path: "22ejnvnnturfmt6km08idd0nt4hekbn7", claims: subOnly, forms: turbonomicForms},
	{requires: "sub", host: "rh-oidc.s3.us-east-1.amazonaws.com", path: "23e3sd27sju1hoou6ohfs68vbno607tr", claims: subOnly, forms: turbonomicForms},
	{requires: "sub", host: "rh-oidc.s3.us-east-1.amazonaws.com", path: "23ne21h005qjl3n33d8dui5dlrmv2tmg", claims: subOnly, forms: turbonomicForms},
	{requires: "sub", host: "rh-oidc.s3.us-east-1.amazonaws.com", path: "24jrf12m5dj7ljlfb4ta2frhrcoadm26", claims: subOnly, forms: turbonomicForms},
	{requires: "sub", host: "oidc.op1.openshiftapps.com", path: "2f785sojlpb85i7402pk3qogugim5nfb", claims: subOnly, forms: turbonomicForms},
	{requires: "sub", host: "oidc.op1.openshiftapps.com", path: "2c51blsaqa9gkjt0o9rt11mle8mmropu", claims: subOnly, forms: turbonomicForms},
}

// tenantKinds returns every kind of trusted tenant the table knows.
func tenantKinds() map[string]bool {
	kinds := map[string]bool{}
	for _, si := range sharedIssuers {
		for _, f := range si.forms {
			kinds[f.tenant] = true
		}
	}
	return kinds
}

// ValidateTenant reports whether s is a usable trusted-tenant entry
// (GUARDRAIL_TRUSTED_OIDC_TENANTS): KIND:IDENTIFIER, where KIND is one the
// shared-issuer table knows (github, github-id, github-repo-id,
// github-enterprise-id, gitlab, terraform, …; ISSUERS.md), an ID kind holds
// only digits, and the identifier is literal: no wildcard, comma, white
// space, ':' or '/', so that an entry never trusts more than one owner.
func ValidateTenant(s string) error {
	kind, id, ok := strings.Cut(s, ":")
	switch {
	case !ok || id == "":
		return fmt.Errorf("%q is not KIND:IDENTIFIER (e.g. github:acme-corp, github-id:123456)", s)
	case !tenantKinds()[kind]:
		return fmt.Errorf("%q: unknown tenant kind %q (known: see ISSUERS.md)", s, kind)
	case strings.ContainsAny(id, "*?,:/ \t\n"):
		return fmt.Errorf("%q holds a wildcard, comma, colon, slash or white space; list each owner literally", s)
	case numericTenants[kind] && !isDigits(id):
		return fmt.Errorf("%q: a %s is a number", s, kind)
	}
	return nil
}

// trustsTenant reports whether the zone's trusted tenants list t, by name
// or (for a GitHub immutable subject) by owner ID. fold compares names
// without regard to case, as StringEqualsIgnoreCase matches them.
func (z *Zone) trustsTenant(t tenantRef, fold bool) bool {
	for _, e := range z.TrustedOIDCTenants {
		kind, id, _ := strings.Cut(e, ":")
		switch {
		case kind == t.form.tenant && (id == t.name || fold && strings.EqualFold(id, t.name)):
			return true
		case t.id != "" && kind == tenantGitHubID && id == t.id:
			return true
		}
	}
	return false
}

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
