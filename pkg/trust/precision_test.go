package trust

import (
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// Table tests for issue 21 ("Trust engine precision"): one table per class,
// each case asserting the exact restricted policy.

// web builds a one-statement trust policy admitting a federated principal
// through AssumeRoleWithWebIdentity.
func web(provider, condition string) string {
	s := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider + `"},"Action":"sts:AssumeRoleWithWebIdentity"`
	if condition != "" {
		s += `,"Condition":` + condition
	}
	return s + `}]}`
}

const oidcARN = "arn:aws:iam::111122223333:oidc-provider/"

// A.1: shared OIDC issuers need a condition naming the tenant; an audience
// alone admits every customer. Hosts compare without regard to case; a
// per-enterprise path makes a single-tenant issuer.
func TestSharedIssuers(t *testing.T) {
	removed := func(host string) []string { return []string{"Federated:" + oidcARN + host} }
	runCases(t, []restrictCase{
		{name: "HCP Terraform EU audience only", in: web(oidcARN+"app.eu.terraform.io", `{"StringEquals":{"app.eu.terraform.io:aud":"aws.workload.identity"}}`),
			want: denyAll, removed: removed("app.eu.terraform.io"), external: true},
		{name: "HCP Terraform EU organization", in: web(oidcARN+"app.eu.terraform.io", `{"StringEquals":{"app.eu.terraform.io:aud":"aws.workload.identity"},"StringLike":{"app.eu.terraform.io:sub":"organization:acme:project:*"}}`)},
		{name: "Buildkite audience only", in: web(oidcARN+"agent.buildkite.com", `{"StringEquals":{"agent.buildkite.com:aud":"sts.amazonaws.com"}}`),
			want: denyAll, removed: removed("agent.buildkite.com"), external: true},
		{name: "Buildkite organization", in: web(oidcARN+"agent.buildkite.com", `{"StringLike":{"agent.buildkite.com:sub":"organization:acme:pipeline:deploy:*"}}`)},
		{name: "GitHub host in upper case is still shared", in: web(oidcARN+"Token.Actions.GitHubUserContent.com", `{"StringEquals":{"Token.Actions.GitHubUserContent.com:aud":"sts.amazonaws.com"}}`),
			want: denyAll, removed: removed("Token.Actions.GitHubUserContent.com"), external: true},
		{name: "GitHub key in other case names the owner", in: web(oidcARN+"token.actions.githubusercontent.com", `{"StringLike":{"TOKEN.actions.githubusercontent.com:SUB":"repo:acme/app:*"}}`)},
		{name: "GitHub Enterprise per-enterprise issuer is single-tenant", in: web(oidcARN+"token.actions.githubusercontent.com/acme-inc", `{"StringEquals":{"token.actions.githubusercontent.com/acme-inc:aud":"sts.amazonaws.com"}}`)},
		{name: "GitLab.com audience only", in: web(oidcARN+"gitlab.com", `{"StringEquals":{"gitlab.com:aud":"https://gitlab.com"}}`),
			want: denyAll, removed: removed("gitlab.com"), external: true},
		{name: "GitLab.com group", in: web(oidcARN+"gitlab.com", `{"StringLike":{"gitlab.com:sub":"project_path:acme/*"}}`)},
		{name: "Vercel global issuer audience names the team", in: web(oidcARN+"oidc.vercel.com", `{"StringEquals":{"oidc.vercel.com:aud":"https://vercel.com/acme"}}`)},
		{name: "Pulumi wildcard before the organization", in: web(oidcARN+"api.pulumi.com/oidc", `{"StringLike":{"api.pulumi.com/oidc:sub":"pulumi:*:org:acme:*"}}`),
			want: denyAll, removed: removed("api.pulumi.com/oidc"), external: true},
		{name: "Pulumi audience is the organization", in: web(oidcARN+"api.pulumi.com/oidc", `{"StringEquals":{"api.pulumi.com/oidc:aud":"acme"}}`)},
		{name: "CircleCI per-organization issuer is single-tenant", in: web(oidcARN+"oidc.circleci.com/org/0b5a2f4c-1111-2222-3333-444455556666", `{"StringEquals":{"oidc.circleci.com/org/0b5a2f4c-1111-2222-3333-444455556666:aud":"0b5a2f4c-1111-2222-3333-444455556666"}}`)},
		{name: "Google registered as an OIDC provider needs a trusted audience", in: web(oidcARN+"accounts.google.com", `{"StringEquals":{"accounts.google.com:aud":"someone-else.apps.googleusercontent.com"}}`),
			want: denyAll, removed: removed("accounts.google.com"), external: true},
	})
}

// A.2: a GitHub (or other shared issuer's) subject confines only when its
// literal part names the owner in one of the issuer's forms.
func TestOwnerNamingSubject(t *testing.T) {
	gh := oidcARN + "token.actions.githubusercontent.com"
	sub := func(op, v string) string {
		if op == "StringEquals" {
			return `{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:sub":"` + v + `"}}`
		}
		return `{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},"` + op + `":{"token.actions.githubusercontent.com:sub":"` + v + `"}}`
	}
	out := []string{"Federated:" + gh}
	runCases(t, []restrictCase{
		{name: "environment only", in: web(gh, sub("StringEquals", "environment:production")), want: denyAll, removed: out, external: true},
		{name: "ref only", in: web(gh, sub("StringLike", "ref:refs/heads/main")), want: denyAll, removed: out, external: true},
		{name: "job_workflow_ref names a reusable workflow, not the caller", in: web(gh, sub("StringLike", "job_workflow_ref:acme/wf/.github/workflows/x.yml@*")), want: denyAll, removed: out, external: true},
		{name: "owner without terminator", in: web(gh, sub("StringLike", "repository_owner:acme*")), want: denyAll, removed: out, external: true},
		{name: "wildcard in the owner", in: web(gh, sub("StringLike", "repo:ac?e/*")), want: denyAll, removed: out, external: true},
		{name: "wildcard first", in: web(gh, sub("StringLike", "*:repo:acme/app:*")), want: denyAll, removed: out, external: true},
		{name: "one value of two does not name the owner", in: web(gh, `{"StringLike":{"token.actions.githubusercontent.com:sub":["repo:acme/app:*","environment:prod"]}}`), want: denyAll, removed: out, external: true},
		{name: "IfExists subject", in: web(gh, sub("StringLikeIfExists", "repo:acme/*")), want: denyAll, removed: out, external: true},
		{name: "negated subject", in: web(gh, sub("StringNotLike", "repo:evil/*")), want: denyAll, removed: out, external: true},
		{name: "repo owner", in: web(gh, sub("StringLike", "repo:acme/*"))},
		{name: "repository_owner custom template", in: web(gh, sub("StringLike", "repository_owner:acme:*"))},
		{name: "repository_owner_id exact", in: web(gh, sub("StringEquals", "repository_owner_id:1234"))},
		{name: "repository:OWNER/ custom template", in: web(gh, sub("StringLike", "repository:acme/app:*"))},
		{name: "ForAnyValue:StringLike on the subject", in: web(gh, sub("ForAnyValue:StringLike", "repo:acme/*"))},
		// repository_owner is not a key STS evaluates (Service Authorization
		// Reference for AWS STS lists repository_owner_id, not
		// repository_owner; issue 22 §2): it never confines.
		{name: "owner claim key STS does not evaluate", in: web(gh, `{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:repository_owner":"acme"}}`), want: denyAll, removed: out, external: true},
		{name: "owner ID claim key", in: web(gh, `{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:repository_owner_id":"1234"}}`)},
		{name: "owner ID claim key with a wildcard", in: web(gh, `{"StringLike":{"token.actions.githubusercontent.com:repository_owner_id":"12*"}}`), want: denyAll, removed: out, external: true},
		{name: "repository claim key names the owner", in: web(gh, `{"StringLike":{"token.actions.githubusercontent.com:repository":"acme/*"}}`)},
		{name: "Terraform organization without terminator", in: web(oidcARN+"app.terraform.io", `{"StringLike":{"app.terraform.io:sub":"organization:acme*"}}`),
			want: denyAll, removed: []string{"Federated:" + oidcARN + "app.terraform.io"}, external: true},
		{name: "GitLab project_path without group terminator", in: web(oidcARN+"gitlab.com", `{"StringLike":{"gitlab.com:sub":"project_path:acme*"}}`),
			want: denyAll, removed: []string{"Federated:" + oidcARN + "gitlab.com"}, external: true},
	})
}

// A.3: a service principal whose source conditions, by any operator, can
// only match sources outside the zone (or name one) acts for outsiders.
func TestServiceSource(t *testing.T) {
	svc := `{"Service":"lambda.amazonaws.com"}`
	out := []string{"Service:lambda.amazonaws.com"}
	runCases(t, []restrictCase{
		{name: "StringLike prefix that excludes every zone account", in: stmt(svc, `{"StringLike":{"aws:SourceAccount":"99998888*"}}`), want: denyAll, removed: out, external: true},
		{name: "ForAllValues foreign account", in: stmt(svc, `{"ForAllValues:StringEquals":{"aws:SourceAccount":"999988887777"}}`), want: denyAll, removed: out, external: true},
		{name: "IfExists foreign account", in: stmt(svc, `{"StringEqualsIfExists":{"aws:SourceAccount":"999988887777"}}`), want: denyAll, removed: out, external: true},
		{name: "negated: every account but the zone's", in: stmt(svc, `{"StringNotEquals":{"aws:SourceAccount":["111122223333","444455556666"]}}`), want: denyAll, removed: out, external: true},
		{name: "foreign organization path", in: stmt(svc, `{"ForAnyValue:StringLike":{"aws:SourceOrgPaths":"o-zzzzzzzzzz/*"}}`), want: denyAll, removed: out, external: true},
		{name: "ArnLike source in a foreign account", in: stmt(svc, `{"ArnLike":{"aws:SourceArn":"arn:aws:lambda:*:999988887777:function:*"}}`), want: denyAll, removed: out, external: true},
		{name: "StringLike source ARN prefix in a foreign account", in: stmt(svc, `{"StringLike":{"aws:SourceArn":"arn:aws:lambda:us-east-1:999988887777:*"}}`), want: denyAll, removed: out, external: true},
		{name: "foreign value excluded by another atom on the key", in: stmt(svc, `{"StringEquals":{"aws:SourceAccount":["111122223333","999988887777"]},"StringNotEquals":{"aws:SourceAccount":"999988887777"}}`)},
		{name: "foreign organization path without a set operator", in: stmt(svc, `{"StringLike":{"aws:SourceOrgPaths":"o-zzzzzzzzzz/r-ab12/*"}}`), want: denyAll, removed: out, external: true},
		{name: "foreign organization", in: stmt(svc, `{"StringEqualsIgnoreCase":{"aws:SourceOrgID":"O-ZZZZZZZZZZ"}}`), want: denyAll, removed: out, external: true},
		{name: "negated: every organization but the trusted one", in: stmt(svc, `{"StringNotEquals":{"aws:SourceOrgID":"o-a1b2c3d4e5"}}`), want: denyAll, removed: out, external: true},
		{name: "negated source ARN may still be an in-zone bucket: flagged", in: stmt(svc, `{"ArnNotLike":{"aws:SourceArn":"arn:aws:*:*:111122223333:*"}}`), flagged: out},
		{name: "older aws:SourceOwner key with a foreign account", in: stmt(svc, `{"StringEquals":{"aws:SourceOwner":"999988887777"}}`), want: denyAll, removed: out, external: true},
		{name: "own organization path", in: stmt(svc, `{"ForAnyValue:StringLike":{"aws:SourceOrgPaths":"o-a1b2c3d4e5/*"}}`)},
		{name: "StringLike own account with trailing wildcard", in: stmt(svc, `{"StringLike":{"aws:SourceAccount":"111122223333*"}}`)},
		{name: "wildcard prefix that reaches the zone is flagged, not removed", in: stmt(svc, `{"StringLike":{"aws:SourceAccount":"1111*"}}`), flagged: out},
	})
}

// The finding names the source condition actually present.
func TestServiceFindingText(t *testing.T) {
	for _, tc := range []struct{ cond, want string }{
		{`{"StringEqualsIfExists":{"aws:SourceAccount":"111122223333"}}`, "the source condition StringEqualsIfExists aws:SourceAccount 111122223333 does not confine"},
		{`{"StringLike":{"aws:SourceAccount":"99998888*"}}`, "the service acts for a source outside the zone: StringLike aws:SourceAccount 99998888*"},
		{`{"StringNotEquals":{"aws:SourceAccount":["111122223333","444455556666"]}}`, "StringNotEquals aws:SourceAccount 111122223333,444455556666 admits no source inside the zone"},
		{``, "no aws:SourceAccount, aws:SourceArn, aws:SourceOrgID or aws:SourceOrgPaths condition"},
	} {
		res := analyze(t, stmt(`{"Service":"lambda.amazonaws.com"}`, tc.cond))
		got := res.Findings[0].Reason
		if !strings.Contains(got, tc.want) {
			t.Errorf("condition %s: finding %q, want it to say %q", tc.cond, got, tc.want)
		}
	}
}

// B.5: unique IDs leave a Deny's NotPrincipal when the policy is written;
// a NotPrincipal left empty becomes "Principal": {"AWS": "*"}.
func TestDanglingNotPrincipal(t *testing.T) {
	allowForeign := `{"Effect":"Allow","Principal":{"AWS":["111122223333","999988887777"]},"Action":"sts:AssumeRole"}`
	allowOwn := `{"Effect":"Allow","Principal":{"AWS":["111122223333"]},"Action":"sts:AssumeRole"}`
	runCases(t, []restrictCase{
		{name: "emptied NotPrincipal becomes Principal AWS *",
			in:      `{"Version":"2012-10-17","Statement":[{"Sid":"D","Effect":"Deny","NotPrincipal":{"AWS":["AROAZFRV7IUIVTOGNCJUN"]},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}},` + allowForeign + `]}`,
			want:    `{"Version":"2012-10-17","Statement":[{"Sid":"D","Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}},` + allowOwn + `]}`,
			removed: []string{"AWS:999988887777", "NotPrincipal.AWS:AROAZFRV7IUIVTOGNCJUN"}, external: true},
		{name: "other NotPrincipal values stay",
			in:      `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:role/Admin","AIDAJQABLZS4A3QDU576Q"],"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},` + allowForeign + `]}`,
			want:    `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:role/Admin"],"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},` + allowOwn + `]}`,
			removed: []string{"AWS:999988887777", "NotPrincipal.AWS:AIDAJQABLZS4A3QDU576Q"}, external: true},
		{name: "a NotPrincipal of only a service and an ID keeps the service",
			in:      `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"Service":"ec2.amazonaws.com","AWS":"AIDAJQABLZS4A3QDU576Q"},"Action":"sts:AssumeRole"},` + allowForeign + `]}`,
			want:    `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},` + allowOwn + `]}`,
			removed: []string{"AWS:999988887777", "NotPrincipal.AWS:AIDAJQABLZS4A3QDU576Q"}, external: true},
		{name: "nothing written, nothing touched",
			in: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"AROAZFRV7IUIVTOGNCJUN"},"Action":"sts:AssumeRole"},` + allowOwn + `]}`},
	})
}

// C.6: equivalent operator forms confine like their plain forms.
func TestEquivalentForms(t *testing.T) {
	restricting := []string{
		`{"StringEqualsIgnoreCase":{"aws:PrincipalOrgID":"O-A1B2C3D4E5"}}`,
		`{"StringEqualsIgnoreCase":{"aws:PrincipalAccount":"111122223333"}}`,
		`{"StringLike":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`,
		`{"StringLike":{"aws:PrincipalAccount":"444455556666"}}`,
		`{"StringLike":{"aws:PrincipalAccount":"*1111222*23333*"}}`,
		`{"StringLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333*"}}`,
		`{"ArnLike":{"aws:PrincipalArn":"arn:*:iam::111122223333:role/*"}}`,
		`{"ArnLike":{"aws:PrincipalArn":"arn:aws:*::111122223333:*"}}`,
		`{"ForAnyValue:StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`,
		`{"ForAnyValue:StringLike":{"aws:PrincipalAccount":"111122223333"}}`,
		`{"ForAnyValue:StringEquals":{"aws:PrincipalArn":"arn:aws:iam::444455556666:role/ci"}}`,
	}
	notRestricting := []string{
		`{"StringLike":{"aws:PrincipalArn":"arn:*:iam::111122223333:role/*"}}`, // * may span a colon in the path
		`{"StringLike":{"aws:PrincipalArn":"arn:aws:iam::11112222333*"}}`,
		`{"ForAllValues:StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`,
		`{"StringEqualsIgnoreCase":{"aws:PrincipalOrgID":"O-ZZZZZZZZZZ"}}`,
	}
	var cases []restrictCase
	for _, c := range restricting {
		cases = append(cases, restrictCase{name: "restricting " + c, in: stmt(`{"AWS":"*"}`, c)})
	}
	for _, c := range notRestricting {
		cases = append(cases, restrictCase{name: "not restricting " + c, in: stmt(`{"AWS":"*"}`, c), want: denyAll, removed: []string{"AWS:*"}, external: true})
	}
	eks := oidcARN + "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
	cases = append(cases,
		restrictCase{name: "aud StringEqualsIgnoreCase on an own provider", in: web(eks, `{"StringEqualsIgnoreCase":{"oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE:aud":"sts.amazonaws.com"}}`)},
		restrictCase{name: "aud StringEqualsIgnoreCase on a public provider", in: web("accounts.google.com", `{"StringEqualsIgnoreCase":{"accounts.google.com:aud":"66677788899.apps.googleusercontent.com"}}`)},
		restrictCase{name: "aud StringLike without wildcard on a public provider", in: web("graph.facebook.com", `{"StringLike":{"graph.facebook.com:app_id":"1234567890"}}`)},
	)
	runCases(t, cases)
}

// C.7: Deny statements that refuse every outsider the same actions confine
// an Allow; any gap in principals, actions or conditions does not.
func TestDenyConfines(t *testing.T) {
	allow := func(principal, action string) string {
		return `{"Effect":"Allow","Principal":` + principal + `,"Action":` + action + `}`
	}
	deny := func(principal, action, cond string) string {
		s := `{"Sid":"OnlyMyOrg","Effect":"Deny","Principal":` + principal + `,"Action":` + action
		if cond != "" {
			s += `,"Condition":` + cond
		}
		return s + `}`
	}
	doc := func(stmts ...string) string {
		s := `{"Version":"2012-10-17","Statement":[`
		for i, x := range stmts {
			if i > 0 {
				s += ","
			}
			s += x
		}
		return s + `]}`
	}
	org := `{"StringNotEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`
	star, foreign := `{"AWS":"*"}`, `{"AWS":"999988887777"}`
	only := func(d string) string { return doc(d) }
	cases := []restrictCase{
		{name: "deny outside my organization", in: doc(allow(star, `"sts:AssumeRole"`), deny(`"*"`, `"sts:AssumeRole"`, org)), flagged: []string{"AWS:*"}},
		{name: "IfExists form refuses callers without the key too", in: doc(allow(`"*"`, `"sts:AssumeRole"`), deny(star, `"sts:*"`, `{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`)), flagged: []string{"*"}},
		{name: "ArnNotLike on the principal account", in: doc(allow(foreign, `["sts:AssumeRole","sts:TagSession"]`), deny(`"*"`, `"sts:*"`, `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:*"}}`)), flagged: []string{"AWS:999988887777"}},
		{name: "NotPrincipal of zone principals without condition", in: doc(allow(star, `"sts:AssumeRole"`), `{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:root","444455556666"]},"Action":"sts:AssumeRole"}`), flagged: []string{"AWS:*"}},
		{name: "deny of the shared issuer's other tenants", in: doc(allow(`{"Federated":"`+oidcARN+`gitlab.com"}`, `"sts:AssumeRoleWithWebIdentity"`), deny(`"*"`, `"sts:AssumeRoleWithWebIdentity"`, `{"StringNotLike":{"gitlab.com:sub":"project_path:acme/*"}}`)), flagged: []string{"Federated:" + oidcARN + "gitlab.com"}},
		{name: "ForAnyValue negated is false without the key", in: doc(allow(star, `"sts:AssumeRole"`), deny(`"*"`, `"sts:AssumeRole"`, `{"ForAnyValue:StringNotLike":{"aws:PrincipalOrgPaths":"o-a1b2c3d4e5/*"}}`)),
			want: only(deny(`"*"`, `"sts:AssumeRole"`, `{"ForAnyValue:StringNotLike":{"aws:PrincipalOrgPaths":"o-a1b2c3d4e5/*"}}`)), removed: []string{"AWS:*"}, external: true},
		{name: "deny of only some actions", in: doc(allow(star, `["sts:AssumeRole","sts:TagSession"]`), deny(`"*"`, `"sts:AssumeRole"`, org)),
			want: only(deny(`"*"`, `"sts:AssumeRole"`, org)), removed: []string{"AWS:*"}, external: true},
		{name: "deny under an extra condition", in: doc(allow(star, `"sts:AssumeRole"`), deny(`"*"`, `"sts:AssumeRole"`, `{"StringNotEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"},"Bool":{"aws:SecureTransport":"true"}}`)),
			want: only(deny(`"*"`, `"sts:AssumeRole"`, `{"StringNotEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"},"Bool":{"aws:SecureTransport":"true"}}`)), removed: []string{"AWS:*"}, external: true},
		{name: "deny of only some outsiders", in: doc(allow(star, `"sts:AssumeRole"`), deny(`"*"`, `"sts:AssumeRole"`, `{"StringNotEquals":{"aws:PrincipalAccount":["111122223333","999988887777"]}}`)),
			want: only(deny(`"*"`, `"sts:AssumeRole"`, `{"StringNotEquals":{"aws:PrincipalAccount":["111122223333","999988887777"]}}`)), removed: []string{"AWS:*"}, external: true},
		{name: "deny naming one account only", in: doc(allow(star, `"sts:AssumeRole"`), deny(`{"AWS":"999988887777"}`, `"sts:AssumeRole"`, "")),
			want: only(deny(`{"AWS":"999988887777"}`, `"sts:AssumeRole"`, "")), removed: []string{"AWS:*"}, external: true},
		{name: "NotPrincipal that spares a foreign account", in: doc(allow(star, `"sts:AssumeRole"`), `{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333","999988887777"]},"Action":"sts:AssumeRole"}`),
			want: only(`{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333","999988887777"]},"Action":"sts:AssumeRole"}`), removed: []string{"AWS:*"}, external: true},
		{name: "positive operator in a deny refuses only the named org", in: doc(allow(star, `"sts:AssumeRole"`), deny(`"*"`, `"sts:AssumeRole"`, `{"StringEquals":{"aws:PrincipalOrgID":"o-zzzzzzzzzz"}}`)),
			want: only(deny(`"*"`, `"sts:AssumeRole"`, `{"StringEquals":{"aws:PrincipalOrgID":"o-zzzzzzzzzz"}}`)), removed: []string{"AWS:*"}, external: true},
	}
	runCases(t, cases)
}

// C.7 read together: the Allow's own condition and Deny statements about
// one key confine when, between them, they refuse every outsider with or
// without the key.
func TestAllowAndDenyTogether(t *testing.T) {
	doc := func(allowCond string, denies ...string) string {
		s := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"`
		if allowCond != "" {
			s += `,"Condition":` + allowCond
		}
		s += `}`
		for _, d := range denies {
			s += `,{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole","Condition":` + d + `}`
		}
		return s + `]}`
	}
	denyOnly := func(denies ...string) string {
		s := `{"Version":"2012-10-17","Statement":[`
		for i, d := range denies {
			if i > 0 {
				s += ","
			}
			s += `{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole","Condition":` + d + `}`
		}
		return s + `]}`
	}
	ifExists := `{"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`
	absent := `{"Null":{"aws:PrincipalOrgID":"true"}}`
	present := `{"Null":{"aws:PrincipalOrgID":"false"}}`
	otherOrgs := `{"StringNotEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"},"Null":{"aws:PrincipalOrgID":"false"}}`
	runCases(t, []restrictCase{
		{name: "IfExists Allow and a Deny of callers without the key", in: doc(ifExists, absent), flagged: []string{"AWS:*"}},
		{name: "ForAllValues Allow on org paths and a Deny of callers without them", in: doc(`{"ForAllValues:StringLike":{"aws:PrincipalOrgPaths":"o-a1b2c3d4e5/*"}}`, `{"Null":{"aws:PrincipalOrgPaths":"true"}}`), flagged: []string{"AWS:*"}},
		{name: "two Denies on one key, one for each case", in: doc("", absent, otherOrgs), flagged: []string{"AWS:*"}},
		{name: "IfExists Allow and a Deny of callers with the key", in: doc(ifExists, present),
			want: denyOnly(present), removed: []string{"AWS:*"}, external: true},
		{name: "Deny of callers without the key alone", in: doc("", absent),
			want: denyOnly(absent), removed: []string{"AWS:*"}, external: true},
		{name: "Deny about another key", in: doc(ifExists, `{"Null":{"aws:PrincipalArn":"true"}}`),
			want: denyOnly(`{"Null":{"aws:PrincipalArn":"true"}}`), removed: []string{"AWS:*"}, external: true},
	})
}

// C.8: a Condition block is one conjunction: Null false on a key makes an
// IfExists or ForAllValues atom on the same key confining.
func TestConditionConjunction(t *testing.T) {
	runCases(t, []restrictCase{
		{name: "Null false + StringEqualsIfExists", in: stmt(`{"AWS":"*"}`, `{"Null":{"aws:PrincipalOrgID":"false"},"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`)},
		{name: "Null false + ForAllValues:StringLike on org paths", in: stmt(`{"AWS":"*"}`, `{"Null":{"aws:PrincipalOrgPaths":"false"},"ForAllValues:StringLike":{"aws:PrincipalOrgPaths":"o-a1b2c3d4e5/*"}}`)},
		{name: "Null false + ArnLikeIfExists", in: stmt(`{"AWS":"*"}`, `{"ArnLikeIfExists":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"},"Null":{"aws:PrincipalArn":"false"}}`)},
		{name: "Null false on another key does not help", in: stmt(`{"AWS":"*"}`, `{"Null":{"aws:PrincipalArn":"false"},"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`),
			want: denyAll, removed: []string{"AWS:*"}, external: true},
		{name: "Null true + IfExists admits callers without the key", in: stmt(`{"AWS":"*"}`, `{"Null":{"aws:PrincipalOrgID":"true"},"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`),
			want: denyAll, removed: []string{"AWS:*"}, external: true},
		{name: "Null false + StringNotEquals still admits other orgs", in: stmt(`{"AWS":"*"}`, `{"Null":{"aws:PrincipalOrgID":"false"},"StringNotEquals":{"aws:PrincipalOrgID":"o-zzzzzzzzzz"}}`),
			want: denyAll, removed: []string{"AWS:*"}, external: true},
		{name: "one key twice in different case is ambiguous", in: stmt(`{"AWS":"*"}`, `{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5","aws:principalorgid":"o-zzzzzzzzzz"}}`),
			want: denyAll, removed: []string{"AWS:*"}, external: true},
		{name: "two operators on one key: both must hold", in: stmt(`{"AWS":"*"}`, `{"StringEquals":{"aws:PrincipalAccount":["111122223333","999988887777"]},"StringNotEquals":{"aws:PrincipalAccount":"999988887777"}}`)},
		{name: "Null false + IfExists subject of a shared issuer", in: web(oidcARN+"token.actions.githubusercontent.com", `{"Null":{"token.actions.githubusercontent.com:sub":"false"},"StringLikeIfExists":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}`)},
	})
}

// C.9: role and user paths may hold any character from \u0021 to \u007F.
func TestARNPaths(t *testing.T) {
	runCases(t, []restrictCase{
		{name: "tilde in the path", in: stmt(`{"AWS":"arn:aws:iam::111122223333:role/team~ops/deployer"}`, "")},
		{name: "colon in the path", in: stmt(`{"AWS":"arn:aws:iam::444455556666:user/a:b/c!d/alice"}`, "")},
		{name: "foreign role with a colon in the path", in: stmt(`{"AWS":["arn:aws:iam::999988887777:role/x:iam::111122223333:role/y","111122223333"]}`, ""),
			want: stmt(`{"AWS":["111122223333"]}`, ""), removed: []string{"AWS:arn:aws:iam::999988887777:role/x:iam::111122223333:role/y"}, external: true},
		{name: "name with a character outside names", in: stmt(`{"AWS":"arn:aws:iam::111122223333:role/path/bad~name"}`, ""),
			want: denyAll, removed: []string{"AWS:arn:aws:iam::111122223333:role/path/bad~name"}, external: true},
	})
}

// D.10: public identity providers are kept only when every audience is
// trusted; unauthenticated Cognito access is flagged even when kept.
func TestPublicIdPs(t *testing.T) {
	cog := "cognito-identity.amazonaws.com"
	pool := "us-east-1:12345678-abcd-abcd-abcd-123456789012"
	runCases(t, []restrictCase{
		{name: "Cognito untrusted pool", in: web(cog, `{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:99999999-abcd-abcd-abcd-123456789012"}}`),
			want: denyAll, removed: []string{"Federated:" + cog}, external: true},
		{name: "Cognito one trusted and one untrusted pool", in: web(cog, `{"StringEquals":{"cognito-identity.amazonaws.com:aud":["`+pool+`","us-east-1:99999999-abcd-abcd-abcd-123456789012"]}}`),
			want: denyAll, removed: []string{"Federated:" + cog}, external: true},
		{name: "Cognito unauthenticated is flagged", in: web(cog, `{"StringEquals":{"cognito-identity.amazonaws.com:aud":"`+pool+`"},"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"unauthenticated"}}`),
			flagged: []string{"Federated:" + cog}},
		{name: "Cognito without amr is flagged", in: web(cog, `{"StringEquals":{"cognito-identity.amazonaws.com:aud":"`+pool+`"}}`), flagged: []string{"Federated:" + cog}},
		{name: "Cognito authenticated only", in: web(cog, `{"StringEquals":{"cognito-identity.amazonaws.com:aud":"`+pool+`"},"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}`)},
		{name: "Login with Amazon trusted app", in: web("www.amazon.com", `{"StringEquals":{"www.amazon.com:app_id":"amzn1.application-oa2-client.trusted"}}`)},
		{name: "Login with Amazon wildcard app", in: web("www.amazon.com", `{"StringLike":{"www.amazon.com:app_id":"amzn1.application-oa2-client.*"}}`),
			want: denyAll, removed: []string{"Federated:www.amazon.com"}, external: true},
		{name: "Cognito confined only by a Deny is removed when the policy is written",
			in:      `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}},{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringNotEquals":{"cognito-identity.amazonaws.com:aud":"` + pool + `"}}},{"Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":"sts:AssumeRole"}]}`,
			want:    `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringNotEquals":{"cognito-identity.amazonaws.com:aud":"` + pool + `"}}}]}`,
			removed: []string{"Federated:" + cog, "AWS:999988887777"}, external: true},
		{name: "Google audience IfExists", in: web("accounts.google.com", `{"StringEqualsIfExists":{"accounts.google.com:aud":"66677788899.apps.googleusercontent.com"}}`),
			want: denyAll, removed: []string{"Federated:accounts.google.com"}, external: true},
	})
}

func analyze(t *testing.T, src string) Result {
	t.Helper()
	doc, err := policy.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Analyze(doc, testZone)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// B (rule for the whole engine): a kept provider of a shared issuer whose
// statement lacks the claim IAM requires stays while nothing is written,
// and is removed when the policy must be written, so that IAM accepts it.
func TestRequiredClaimOnWrite(t *testing.T) {
	gh := oidcARN + "token.actions.githubusercontent.com"
	ownerKey := `{"Effect":"Allow","Principal":{"Federated":"` + gh + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:repository_owner_id":"1234"}}}`
	withSub := `{"Effect":"Allow","Principal":{"Federated":"` + gh + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}}`
	audOnly := `{"Effect":"Allow","Principal":{"Federated":"` + gh + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}`
	denySub := `{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringNotLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}}`
	foreign := `{"Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":"sts:AssumeRole"}`
	doc := func(stmts ...string) string {
		return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
	}
	runCases(t, []restrictCase{
		{name: "owner claim key kept while nothing is written", in: doc(ownerKey)},
		{name: "owner claim key removed when the policy is written", in: doc(ownerKey, foreign),
			want: denyAll, removed: []string{"Federated:" + gh, "AWS:999988887777"}, external: true},
		{name: "subject condition kept when the policy is written", in: doc(withSub, foreign),
			want: doc(withSub), removed: []string{"AWS:999988887777"}, external: true},
		{name: "Deny-confined provider kept while nothing is written", in: doc(audOnly, denySub), flagged: []string{"Federated:" + gh}},
		{name: "Deny-confined provider removed when the policy is written", in: doc(audOnly, denySub, foreign),
			want: doc(denySub), removed: []string{"Federated:" + gh, "AWS:999988887777"}, external: true},
	})
}
