package trust

import (
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// Table tests for issue 22 ("Identity federation as AWS and GitHub run it
// since 2025"). Sources cited per case:
//
//	[SAR]  Service Authorization Reference, "Actions, resources, and condition
//	       keys for AWS Security Token Service", sts:AssumeRoleWithWebIdentity
//	       (list_awssecuritytokenservice.html): the provider-specific keys.
//	[OPS]  IAM User Guide, reference_policies_elements_condition_operators: a
//	       key absent from the request makes a positive operator false, a
//	       negated or …IfExists one true.
//	[SVM]  IAM User Guide, reference_policies_condition-single-vs-multi-valued-
//	       context-keys: ForAllValues is true when the key is absent.
//	[GHI]  GitHub Docs, "OpenID Connect reference", immutable subject claims.
//	[IDP]  IAM User Guide, id_roles_providers_oidc_secure-by-default.

const ghIssuer = oidcARN + "token.actions.githubusercontent.com"

// ghCond builds a GitHub condition: the audience plus extra atoms.
func ghCond(op, claim, value string) string {
	atom := `"token.actions.githubusercontent.com:` + claim + `":"` + value + `"`
	if op == "StringEquals" {
		return `{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com",` + atom + `}}`
	}
	return `{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},"` + op + `":{` + atom + `}}`
}

// §2: STS provider-specific claim keys.
func TestSTSClaimKeys(t *testing.T) {
	gh := ghIssuer
	out := []string{"Federated:" + gh}
	gl := oidcARN + "gitlab.com"
	bk := oidcARN + "agent.buildkite.com"
	tf := oidcARN + "app.terraform.io"
	runCases(t, []restrictCase{
		// [SAR] repository, repository_id, repository_owner_id, enterprise_id pin the tenant.
		{name: "repository names the owner", in: web(gh, ghCond("StringEquals", "repository", "acme/app")), why: "github:acme, named by the STS claim key repository"},
		{name: "repository pattern with the owner's slash", in: web(gh, ghCond("StringLike", "repository", "acme/*"))},
		{name: "repository pattern without the slash", in: web(gh, ghCond("StringLike", "repository", "acme*")), want: denyAll, removed: out, external: true},
		{name: "repository_id pins one repository", in: web(gh, ghCond("StringEquals", "repository_id", "987654")), why: "github-repo-id:987654"},
		{name: "repository_owner_id pins the owner", in: web(gh, ghCond("StringEquals", "repository_owner_id", "123456")), why: "github-id:123456"},
		{name: "enterprise_id pins the enterprise", in: web(gh, ghCond("StringEquals", "enterprise_id", "42")), why: "github-enterprise-id:42"},
		{name: "repository in other case of the key", in: web(gh, ghCond("StringEquals", "Repository", "acme/app"))},
		// [SAR] keys that do not name the owner do not confine alone.
		{name: "environment alone", in: web(gh, ghCond("StringEquals", "environment", "production")), want: denyAll, removed: out, external: true},
		{name: "actor alone", in: web(gh, ghCond("StringEquals", "actor", "octocat")), want: denyAll, removed: out, external: true},
		{name: "actor_id alone", in: web(gh, ghCond("StringEquals", "actor_id", "1")), want: denyAll, removed: out, external: true},
		{name: "job_workflow_ref alone", in: web(gh, ghCond("StringLike", "job_workflow_ref", "acme/wf/.github/workflows/x.yml@*")), want: denyAll, removed: out, external: true},
		{name: "ref alone", in: web(gh, ghCond("StringEquals", "ref", "refs/heads/main")), want: denyAll, removed: out, external: true},
		{name: "workflow alone", in: web(gh, ghCond("StringEquals", "workflow", "deploy")), want: denyAll, removed: out, external: true},
		{name: "environment and repository", in: web(gh, `{"StringEquals":{"token.actions.githubusercontent.com:environment":"production","token.actions.githubusercontent.com:repository":"acme/app"}}`)},
		// [SAR]+[OPS] a key STS does not evaluate is absent: a positive
		// condition on it admits no one; it never confines, and removing the
		// principal changes nothing.
		{name: "repository_owner is not an STS key", in: web(gh, ghCond("StringEquals", "repository_owner", "acme")), want: denyAll, removed: out, external: true,
			why: "token.actions.githubusercontent.com:repository_owner is not a condition key STS evaluates"},
		{name: "made-up key", in: web(gh, ghCond("StringEquals", "tenant", "acme")), want: denyAll, removed: out, external: true, why: "is not a condition key STS evaluates"},
		// [OPS] operators that hold for an outsider do not confine.
		{name: "negated repository", in: web(gh, ghCond("StringNotEquals", "repository", "evil/app")), want: denyAll, removed: out, external: true},
		{name: "IfExists repository", in: web(gh, ghCond("StringEqualsIfExists", "repository", "acme/app")), want: denyAll, removed: out, external: true},
		// [SAR] GitLab.com: project_id and namespace_id pin a project or group.
		{name: "GitLab project_id", in: web(gl, `{"StringEquals":{"gitlab.com:project_id":"4242"}}`), why: "gitlab-project-id:4242"},
		{name: "GitLab namespace_id", in: web(gl, `{"StringEquals":{"gitlab.com:namespace_id":"77"}}`)},
		{name: "GitLab user_login alone", in: web(gl, `{"StringEquals":{"gitlab.com:user_login":"alice"}}`), want: denyAll, removed: []string{"Federated:" + gl}, external: true},
		{name: "GitLab project_path is not an STS key", in: web(gl, `{"StringLike":{"gitlab.com:project_path":"acme/*"}}`), want: denyAll, removed: []string{"Federated:" + gl}, external: true,
			why: "gitlab.com:project_path is not a condition key STS evaluates"},
		// [SAR] Buildkite: organization slug and UUIDs pin the organization.
		{name: "Buildkite organization_id", in: web(bk, `{"StringEquals":{"agent.buildkite.com:organization_id":"0d5a-1"}}`), why: "buildkite-org-id:0d5a-1"},
		{name: "Buildkite pipeline_slug alone", in: web(bk, `{"StringEquals":{"agent.buildkite.com:pipeline_slug":"deploy"}}`), want: denyAll, removed: []string{"Federated:" + bk}, external: true},
		// [SAR] HCP Terraform has no provider-specific STS keys.
		{name: "Terraform organization name key is not an STS key", in: web(tf, `{"StringEquals":{"app.terraform.io:terraform_organization_name":"acme"}}`), want: denyAll, removed: []string{"Federated:" + tf}, external: true},
	})
}

// §3: GitHub immutable subjects, repo:OWNER@OWNER_ID/REPO@REPO_ID:… [GHI].
func TestGitHubImmutableSubject(t *testing.T) {
	gh := ghIssuer
	out := []string{"Federated:" + gh}
	const immutable = "GitHub immutable subject repo:OWNER@OWNER_ID/REPO@REPO_ID"
	runCases(t, []restrictCase{
		// [GHI] "Immutable format example: repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main".
		{name: "branch, exact", in: web(gh, ghCond("StringEquals", "sub", "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main")), why: "github:octo-org (github-id:123456), named by the " + immutable},
		{name: "tag", in: web(gh, ghCond("StringLike", "sub", "repo:octo-org@123456/octo-repo@456789:ref:refs/tags/v*")), why: immutable},
		{name: "environment", in: web(gh, ghCond("StringEquals", "sub", "repo:octo-org@123456/octo-repo@456789:environment:production"))},
		{name: "pull request", in: web(gh, ghCond("StringEquals", "sub", "repo:octo-org@123456/octo-repo@456789:pull_request"))},
		{name: "every repository of the owner", in: web(gh, ghCond("StringLike", "sub", "repo:octo-org@123456/*"))},
		// [GHI] "@ cannot appear in GitHub usernames": repo:octo-org@ ends the name.
		{name: "owner by name, any ID", in: web(gh, ghCond("StringLike", "sub", "repo:octo-org@*")), why: "github:octo-org, named by the " + immutable},
		// [GHI] customised template: the IDs stay in the repo segment.
		{name: "customised template", in: web(gh, ghCond("StringEquals", "sub", "repo:octo-org@123456/octo-repo@456789:environment:prod:job_workflow_ref:octo-org/w/.github/workflows/d.yml@refs/heads/main"))},
		// Old form still recognised and named as such.
		{name: "previous format", in: web(gh, ghCond("StringLike", "sub", "repo:octo-org/octo-repo:*")), why: "github:octo-org, named by the GitHub subject repo:OWNER/REPO"},
		// Changelog's hyphen example: read as a name (fail closed).
		{name: "changelog hyphen form is a name", in: web(gh, ghCond("StringEquals", "sub", "repo:octocat-123456/my-repo-456789:ref:refs/heads/main")), why: "github:octocat-123456, named by the GitHub subject repo:OWNER/REPO"},
		// Literal-prefix rule unchanged: * spans '/', '@' and ':'.
		{name: "owner ID after a leading wildcard", in: web(gh, ghCond("StringLike", "sub", "repo:*@123456/*")), want: denyAll, removed: out, external: true},
		{name: "wildcard first", in: web(gh, ghCond("StringLike", "sub", "*@123456/octo-repo@456789:*")), want: denyAll, removed: out, external: true},
		{name: "wildcard in the owner name", in: web(gh, ghCond("StringLike", "sub", "repo:octo-*@123456/*")), want: denyAll, removed: out, external: true},
		{name: "owner ID that is not a number", in: web(gh, ghCond("StringEquals", "sub", "repo:octo-org@abc/octo-repo@1:ref:refs/heads/main")), want: denyAll, removed: out, external: true},
	})
}

// tenantZone is testZone with the trusted tenants of issue 22's example.
var tenantZone = func() Zone {
	z := testZone
	z.TrustedOIDCTenants = []string{"github:acme-corp", "github-id:123456", "github-repo-id:987654", "github-enterprise-id:42", "gitlab:acme-group", "terraform:acme"}
	return z
}()

// §5: trusted tenants of shared issuers.
func TestTrustedTenants(t *testing.T) {
	gh := ghIssuer
	out := []string{"Federated:" + gh}
	gl, tf, bk := oidcARN+"gitlab.com", oidcARN+"app.terraform.io", oidcARN+"agent.buildkite.com"
	runCasesIn(t, tenantZone, []restrictCase{
		{name: "listed owner by name", in: web(gh, ghCond("StringLike", "sub", "repo:acme-corp/*")), why: "github:acme-corp, named by the GitHub subject repo:OWNER/REPO (a trusted tenant)"},
		{name: "owner not listed", in: web(gh, ghCond("StringLike", "sub", "repo:someone-else/*")), want: denyAll, removed: out, external: true,
			why: "confined to github:someone-else, named by the GitHub subject repo:OWNER/REPO, which is not among the trusted tenants"},
		{name: "immutable subject, listed by ID", in: web(gh, ghCond("StringLike", "sub", "repo:renamed-org@123456/*"))},
		{name: "immutable subject, listed by name", in: web(gh, ghCond("StringLike", "sub", "repo:acme-corp@999/*"))},
		{name: "immutable subject, neither listed", in: web(gh, ghCond("StringLike", "sub", "repo:evil@999/*")), want: denyAll, removed: out, external: true, why: "github:evil (github-id:999)"},
		{name: "immutable by name only, ID listed but not the name", in: web(gh, ghCond("StringLike", "sub", "repo:renamed-org@*")), want: denyAll, removed: out, external: true},
		{name: "customised subject owner ID listed", in: web(gh, ghCond("StringLike", "sub", "repository_owner_id:123456:*"))},
		{name: "repository_id listed", in: web(gh, ghCond("StringEquals", "repository_id", "987654"))},
		{name: "repository_id not listed", in: web(gh, ghCond("StringEquals", "repository_id", "111")), want: denyAll, removed: out, external: true, why: "github-repo-id:111"},
		{name: "repository of a listed owner", in: web(gh, ghCond("StringEquals", "repository", "acme-corp/app"))},
		{name: "repository of another owner", in: web(gh, ghCond("StringEquals", "repository", "evil/app")), want: denyAll, removed: out, external: true},
		{name: "enterprise listed", in: web(gh, ghCond("StringEquals", "enterprise_id", "42"))},
		{name: "one listed and one foreign value", in: web(gh, `{"StringLike":{"token.actions.githubusercontent.com:sub":["repo:acme-corp/*","repo:evil/*"]}}`), want: denyAll, removed: out, external: true, why: "github:evil"},
		{name: "case-insensitive operator, listed owner", in: web(gh, ghCond("StringEqualsIgnoreCase", "sub", "repo:ACME-CORP/app:ref:refs/heads/main"))},
		{name: "case-sensitive operator, other case", in: web(gh, ghCond("StringEquals", "sub", "repo:ACME-CORP/app:ref:refs/heads/main")), want: denyAll, removed: out, external: true,
			why: "confined to github:ACME-CORP"},
		{name: "Deny naming an unlisted owner", in: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + gh + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}},{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringNotLike":{"token.actions.githubusercontent.com:sub":"repo:evil/*"}}}]}`,
			want: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringNotLike":{"token.actions.githubusercontent.com:sub":"repo:evil/*"}}}]}`, removed: out, external: true, why: "github:evil"},
		{name: "GitLab group listed", in: web(gl, `{"StringLike":{"gitlab.com:sub":"project_path:acme-group/*"}}`)},
		{name: "GitLab group not listed", in: web(gl, `{"StringLike":{"gitlab.com:sub":"project_path:other/*"}}`), want: denyAll, removed: []string{"Federated:" + gl}, external: true, why: "gitlab:other"},
		{name: "Terraform organization listed", in: web(tf, `{"StringLike":{"app.terraform.io:sub":"organization:acme:*"}}`)},
		{name: "Terraform organization not listed", in: web(tf, `{"StringLike":{"app.terraform.io:sub":"organization:evil:*"}}`), want: denyAll, removed: []string{"Federated:" + tf}, external: true, why: "terraform:evil"},
		{name: "issuer with no listed tenant", in: web(bk, `{"StringLike":{"agent.buildkite.com:sub":"organization:acme:*"}}`), want: denyAll, removed: []string{"Federated:" + bk}, external: true, why: "buildkite:acme"},
		// Single-tenant issuers are not affected by the list.
		{name: "per-enterprise issuer", in: web(oidcARN+"token.actions.githubusercontent.com/acme-inc", `{"StringEquals":{"token.actions.githubusercontent.com/acme-inc:aud":"sts.amazonaws.com"}}`)},
	})
}

// §5: without trusted tenants, an owner-naming statement is kept and its
// record carries a finding that the tenant is unchecked.
func TestTenantUnchecked(t *testing.T) {
	doc, err := policy.Parse([]byte(web(ghIssuer, ghCond("StringLike", "sub", "repo:someone-else/*"))))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		z         Zone
		unchecked bool
	}{
		{"unset", testZone, true},
		{"set", func() Zone { z := testZone; z.TrustedOIDCTenants = []string{"github:someone-else"}; return z }(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Analyze(doc, tc.z)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Principals) != 1 || !res.Principals[0].Trusted {
				t.Fatalf("principal not kept: %+v", res.Principals)
			}
			got := len(res.Findings) == 1 && !res.Findings[0].Removed && strings.HasPrefix(res.Findings[0].Reason, tenantUnchecked)
			if got != tc.unchecked || !tc.unchecked && len(res.Findings) != 0 {
				t.Errorf("findings %+v, want unchecked-tenant finding: %v", res.Findings, tc.unchecked)
			}
		})
	}
}

// §5: the trusted-tenant entries a zone accepts.
func TestValidateTenant(t *testing.T) {
	for _, tc := range []struct {
		in, err string
	}{
		{"github:acme-corp", ""}, {"github-id:123456", ""}, {"github-repo-id:987654", ""}, {"github-enterprise-id:42", ""},
		{"gitlab:acme-group", ""}, {"terraform:acme", ""}, {"buildkite:acme", ""}, {"gitlab-project-id:4242", ""},
		{"acme", "KIND:IDENTIFIER"}, {"github:", "KIND:IDENTIFIER"}, {"bitbucket:acme", "unknown tenant kind"},
		{"github:acme*", "wildcard"}, {"github:acme/app", "slash"}, {"github-id:abc", "is a number"}, {"github: acme", "white space"},
	} {
		err := ValidateTenant(tc.in)
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ValidateTenant(%q) = %v, want %q", tc.in, err, tc.err)
		}
	}
	z := testZone
	z.TrustedOIDCTenants = []string{"github:*"}
	if err := z.Validate(); err == nil {
		t.Error("Zone.Validate accepted a wildcard tenant")
	}
}

// §6: ForAllValues: on the single-valued sub. [SVM] "It also returns true if
// there are no context keys in the request": without Null false on the same
// key it does not confine; with it, it does. IAM's write rule [IDP] is not
// documented to accept a set operator, so a policy relying on one is not
// written (the provider is removed when the policy must be written).
func TestForAllValuesSingleValued(t *testing.T) {
	gh := ghIssuer
	out := []string{"Federated:" + gh}
	foreign := `{"Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":"sts:AssumeRole"}`
	allow := func(cond string) string {
		return `{"Effect":"Allow","Principal":{"Federated":"` + gh + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":` + cond + `}`
	}
	doc := func(stmts ...string) string {
		return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
	}
	forAll := `{"ForAllValues:StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}`
	forAllNull := `{"Null":{"token.actions.githubusercontent.com:sub":"false"},"ForAllValues:StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}`
	forAllNullSub := `{"Null":{"token.actions.githubusercontent.com:sub":"false"},"ForAllValues:StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:*"}}`
	forAny := `{"ForAnyValue:StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}`
	runCases(t, []restrictCase{
		{name: "ForAllValues alone does not confine", in: doc(allow(forAll)), want: denyAll, removed: out, external: true},
		{name: "ForAllValues with Null false confines", in: doc(allow(forAllNull))},
		{name: "ForAllValues with Null false is not written", in: doc(allow(forAllNull), foreign), want: denyAll, removed: []string{"Federated:" + gh, "AWS:999988887777"}, external: true,
			why: "which IAM requires before it saves a trust policy"},
		{name: "ForAllValues with Null false and a plain sub condition is written", in: doc(allow(forAllNullSub), foreign), want: doc(allow(forAllNullSub)), removed: []string{"AWS:999988887777"}, external: true},
		{name: "ForAnyValue reads as the plain operator", in: doc(allow(forAny), foreign), want: doc(allow(forAny)), removed: []string{"AWS:999988887777"}, external: true},
		{name: "ForAllValues on an owner claim key with Null false", in: doc(allow(`{"Null":{"token.actions.githubusercontent.com:repository_id":"false"},"ForAllValues:StringEquals":{"token.actions.githubusercontent.com:repository_id":"987654"}}`))},
		{name: "ForAllValues on an owner claim key alone", in: doc(allow(`{"ForAllValues:StringEquals":{"token.actions.githubusercontent.com:repository_id":"987654"}}`)), want: denyAll, removed: out, external: true},
	})
}

// §1: where IAM requires a claim other than sub [IDP] (aud for Pulumi and
// Vercel's global issuer, per the IAM page; AWS's RCP sample uses sub), the
// owner named in that claim is what lets a rewrite keep the provider.
func TestRequiredClaimOtherThanSub(t *testing.T) {
	foreign := `{"Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":"sts:AssumeRole"}`
	allow := func(provider, cond string) string {
		return `{"Effect":"Allow","Principal":{"Federated":"` + oidcARN + provider + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":` + cond + `}`
	}
	doc := func(stmts ...string) string {
		return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
	}
	pulumiAud := allow("api.pulumi.com/oidc", `{"StringEquals":{"api.pulumi.com/oidc:aud":"acme"}}`)
	pulumiSub := allow("api.pulumi.com/oidc", `{"StringLike":{"api.pulumi.com/oidc:sub":"pulumi:deploy:org:acme:*"}}`)
	vercelAud := allow("oidc.vercel.com", `{"StringEquals":{"oidc.vercel.com:aud":"https://vercel.com/acme"}}`)
	vercelSub := allow("oidc.vercel.com", `{"StringLike":{"oidc.vercel.com:sub":"owner:acme:*"}}`)
	runCases(t, []restrictCase{
		{name: "Pulumi audience kept on write", in: doc(pulumiAud, foreign), want: doc(pulumiAud), removed: []string{"AWS:999988887777"}, external: true, why: "pulumi:acme, named by the Pulumi audience"},
		{name: "Pulumi subject kept while nothing is written", in: doc(pulumiSub)},
		{name: "Pulumi ESC audience names the organization", in: doc(allow("api.pulumi.com/oidc", `{"StringEquals":{"api.pulumi.com/oidc:aud":"aws:acme"}}`)), why: "pulumi:acme, named by the Pulumi ESC audience aws:ORG"},
		{name: "Pulumi subject removed on write", in: doc(pulumiSub, foreign), want: denyAll, removed: []string{"Federated:" + oidcARN + "api.pulumi.com/oidc", "AWS:999988887777"}, external: true,
			why: "no positive condition on api.pulumi.com/oidc:aud"},
		{name: "Vercel audience kept on write", in: doc(vercelAud, foreign), want: doc(vercelAud), removed: []string{"AWS:999988887777"}, external: true},
		{name: "Vercel subject removed on write", in: doc(vercelSub, foreign), want: denyAll, removed: []string{"Federated:" + oidcARN + "oidc.vercel.com", "AWS:999988887777"}, external: true},
	})
}
