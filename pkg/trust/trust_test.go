package trust

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// testZone is the zone of every table case: own account 111122223333, one
// trusted account, one trusted organization. 999988887777 is foreign.
var testZone = Zone{
	Account:         "111122223333",
	TrustedAccounts: []string{"444455556666"},
	TrustedOrgIDs:   []string{"o-a1b2c3d4e5"},
	Partition:       "aws",
	TrustedAudiences: []string{"us-east-1:12345678-abcd-abcd-abcd-123456789012", "66677788899.apps.googleusercontent.com", "1234567890",
		"amzn1.application-oa2-client.trusted"},
}

const denyAll = `{"Version":"2012-10-17","Statement":[{"Sid":"GuardrailNoTrustedPrincipals","Effect":"Deny","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:AssumeRoleWithSAML","sts:AssumeRoleWithWebIdentity"]}]}`

// stmt builds a one-statement trust policy with the given principal and condition.
func stmt(principal, condition string) string {
	s := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":` + principal + `,"Action":"sts:AssumeRole"`
	if condition != "" {
		s += `,"Condition":` + condition
	}
	return s + `}]}`
}

type restrictCase struct {
	name string
	in   string
	// want is the exact restricted document; "" means unchanged.
	want string
	// removed lists the removed principals as "Type:Value".
	removed []string
	// external is the expected RemovedExternal.
	external bool
	// flagged lists kept principals that carry a risk finding.
	flagged []string
	// why, when set, must appear in some principal's reason or risk.
	why string
}

func runCases(t *testing.T, cases []restrictCase) {
	t.Helper()
	runCasesIn(t, testZone, cases)
}

// runCasesIn runs cases in zone z.
func runCasesIn(t *testing.T, z Zone, cases []restrictCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := policy.Parse([]byte(tc.in))
			if err != nil {
				t.Fatalf("parse input: %v", err)
			}
			res, err := Restrict(doc, z)
			if err != nil {
				t.Fatalf("Restrict: %v", err)
			}
			if tc.why != "" {
				found := false
				for _, p := range res.Principals {
					found = found || strings.Contains(p.Reason, tc.why) || strings.Contains(p.Risk, tc.why)
				}
				if !found {
					t.Errorf("no principal's reason or risk holds %q: %+v", tc.why, res.Principals)
				}
			}
			want := tc.want
			if want == "" {
				want = compact(t, tc.in)
			}
			if got := res.Policy.String(); got != want {
				t.Errorf("restricted policy\n got: %s\nwant: %s", got, want)
			}
			if res.Changed != (tc.want != "") {
				t.Errorf("Changed = %v, want %v", res.Changed, tc.want != "")
			}
			var removed, flagged []string
			for _, f := range res.Findings {
				if f.Control != ControlTrust || f.Reason == "" {
					t.Errorf("finding without control or reason: %+v", f)
				}
				switch {
				case f.Removed:
					removed = append(removed, f.Principal)
				case len(z.TrustedOIDCTenants) == 0 && strings.HasPrefix(f.Reason, tenantUnchecked):
					// The unchecked-tenant note alone (no trusted tenants in
					// testZone); TestTrustedTenants asserts it.
				default:
					flagged = append(flagged, f.Principal)
				}
			}
			if strings.Join(removed, " ") != strings.Join(tc.removed, " ") {
				t.Errorf("removed = %q, want %q", removed, tc.removed)
			}
			if strings.Join(flagged, " ") != strings.Join(tc.flagged, " ") {
				t.Errorf("flagged = %q, want %q", flagged, tc.flagged)
			}
			if res.RemovedExternal != tc.external {
				t.Errorf("RemovedExternal = %v, want %v", res.RemovedExternal, tc.external)
			}
			checkInvariants(t, doc, z)
		})
	}
}

func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("compact %s: %v", s, err)
	}
	return b.String()
}

// TestPrincipalTable covers every row of the principal table of DESIGN.md §4.
func TestPrincipalTable(t *testing.T) {
	orgCond := `{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`
	runCases(t, []restrictCase{
		// "*" or {"AWS": "*"}: trusted only with a restricting condition.
		{name: "bare wildcard", in: stmt(`"*"`, ""), want: denyAll, removed: []string{"*"}, external: true},
		{name: "AWS wildcard", in: stmt(`{"AWS":"*"}`, ""), want: denyAll, removed: []string{"AWS:*"}, external: true},
		{name: "AWS wildcard in list", in: stmt(`{"AWS":["*"]}`, ""), want: denyAll, removed: []string{"AWS:*"}, external: true},
		{name: "bare wildcard restricted to org", in: stmt(`"*"`, orgCond)},
		{name: "AWS wildcard restricted to org", in: stmt(`{"AWS":"*"}`, orgCond)},

		// Account IDs and root ARNs.
		{name: "own account ID", in: stmt(`{"AWS":"111122223333"}`, "")},
		{name: "trusted account ID", in: stmt(`{"AWS":"444455556666"}`, "")},
		{name: "foreign account ID", in: stmt(`{"AWS":"999988887777"}`, ""), want: denyAll, removed: []string{"AWS:999988887777"}, external: true},
		{name: "own root ARN", in: stmt(`{"AWS":"arn:aws:iam::111122223333:root"}`, "")},
		{name: "foreign root ARN", in: stmt(`{"AWS":"arn:aws:iam::999988887777:root"}`, ""), want: denyAll, removed: []string{"AWS:arn:aws:iam::999988887777:root"}, external: true},
		{name: "foreign account restricted by condition", in: stmt(`{"AWS":"999988887777"}`, `{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}`)},

		// Role, user, assumed-role and federated-user ARNs: their account decides.
		{name: "own role", in: stmt(`{"AWS":"arn:aws:iam::111122223333:role/app/Deployer"}`, "")},
		{name: "own user", in: stmt(`{"AWS":"arn:aws:iam::111122223333:user/alice"}`, "")},
		{name: "trusted assumed-role", in: stmt(`{"AWS":"arn:aws:sts::444455556666:assumed-role/Ops/alice"}`, "")},
		{name: "foreign role", in: stmt(`{"AWS":"arn:aws:iam::999988887777:role/Attacker"}`, ""), want: denyAll, removed: []string{"AWS:arn:aws:iam::999988887777:role/Attacker"}, external: true},
		{name: "foreign user", in: stmt(`{"AWS":"arn:aws:iam::999988887777:user/mallory"}`, ""), want: denyAll, removed: []string{"AWS:arn:aws:iam::999988887777:user/mallory"}, external: true},
		{name: "foreign assumed-role", in: stmt(`{"AWS":"arn:aws:sts::999988887777:assumed-role/R/s"}`, ""), want: denyAll, removed: []string{"AWS:arn:aws:sts::999988887777:assumed-role/R/s"}, external: true},
		{name: "foreign federated-user", in: stmt(`{"AWS":"arn:aws:sts::999988887777:federated-user/bob"}`, ""), want: denyAll, removed: []string{"AWS:arn:aws:sts::999988887777:federated-user/bob"}, external: true},

		// Unique IDs: dangling, never trusted, and never a reason to revoke.
		{name: "dangling role ID", in: stmt(`{"AWS":"AROAZFRV7IUIVTOGNCJUN"}`, ""), want: denyAll, removed: []string{"AWS:AROAZFRV7IUIVTOGNCJUN"}},
		{name: "dangling user ID", in: stmt(`{"AWS":["arn:aws:iam::111122223333:root","AIDAJQABLZS4A3QDU576Q"]}`, ""),
			want: stmt(`{"AWS":["arn:aws:iam::111122223333:root"]}`, ""), removed: []string{"AWS:AIDAJQABLZS4A3QDU576Q"}},
		{name: "dangling ID even with restricting condition", in: stmt(`{"AWS":"AROAZFRV7IUIVTOGNCJUN"}`, orgCond), want: denyAll, removed: []string{"AWS:AROAZFRV7IUIVTOGNCJUN"}},

		// Services: kept, flagged without a source condition, removed when pinned outside the zone.
		{name: "service without source condition", in: stmt(`{"Service":"lambda.amazonaws.com"}`, ""), flagged: []string{"Service:lambda.amazonaws.com"}},
		{name: "service pinned to own account", in: stmt(`{"Service":"lambda.amazonaws.com"}`, `{"StringEquals":{"aws:SourceAccount":"111122223333"}}`)},
		{name: "service pinned to own ARN", in: stmt(`{"Service":"events.amazonaws.com"}`, `{"ArnLike":{"aws:SourceArn":"arn:aws:events:us-east-1:111122223333:rule/*"}}`)},
		{name: "service pinned to trusted org", in: stmt(`{"Service":"ssm.amazonaws.com"}`, `{"StringEquals":{"aws:SourceOrgID":"o-a1b2c3d4e5"}}`)},
		{name: "service pinned to foreign account", in: stmt(`{"Service":"lambda.amazonaws.com"}`, `{"StringEquals":{"aws:SourceAccount":"999988887777"}}`),
			want: denyAll, removed: []string{"Service:lambda.amazonaws.com"}, external: true},
		{name: "service pinned to foreign ARN", in: stmt(`{"Service":"states.amazonaws.com"}`, `{"ArnEquals":{"aws:SourceArn":"arn:aws:states:us-east-1:999988887777:stateMachine:x"}}`),
			want: denyAll, removed: []string{"Service:states.amazonaws.com"}, external: true},
		{name: "service pinned to foreign org", in: stmt(`{"Service":"ssm.amazonaws.com"}`, `{"StringEquals":{"aws:SourceOrgID":"o-zzzzzzzzzz"}}`),
			want: denyAll, removed: []string{"Service:ssm.amazonaws.com"}, external: true},
		{name: "service with one foreign source among own", in: stmt(`{"Service":"lambda.amazonaws.com"}`, `{"StringEquals":{"aws:SourceAccount":["111122223333","999988887777"]}}`),
			want: denyAll, removed: []string{"Service:lambda.amazonaws.com"}, external: true},
		{name: "service source ARN without account is flagged", in: stmt(`{"Service":"s3.amazonaws.com"}`, `{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::my-bucket"}}`), flagged: []string{"Service:s3.amazonaws.com"}},
		{name: "service with IfExists source is flagged", in: stmt(`{"Service":"lambda.amazonaws.com"}`, `{"StringEqualsIfExists":{"aws:SourceAccount":"111122223333"}}`), flagged: []string{"Service:lambda.amazonaws.com"}},
		{name: "malformed service name", in: stmt(`{"Service":["lambda.amazonaws.com","evil.example.com"]}`, ""),
			want: stmt(`{"Service":["lambda.amazonaws.com"]}`, ""), removed: []string{"Service:evil.example.com"}, external: true, flagged: []string{"Service:lambda.amazonaws.com"}},

		// SAML and OIDC providers: the provider's account, and OIDC needs a constraint.
		{name: "own SAML provider", in: stmt(`{"Federated":"arn:aws:iam::111122223333:saml-provider/Okta"}`, `{"StringEquals":{"SAML:aud":"https://signin.aws.amazon.com/saml"}}`)},
		{name: "foreign SAML provider", in: stmt(`{"Federated":"arn:aws:iam::999988887777:saml-provider/Okta"}`, ""),
			want: denyAll, removed: []string{"Federated:arn:aws:iam::999988887777:saml-provider/Okta"}, external: true},
		{name: "GitHub OIDC with subject", in: stmt(`{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}`,
			`{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:my-org/my-repo:*"}}`)},
		{name: "GitHub OIDC with audience only", in: stmt(`{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}`,
			`{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}`),
			want: denyAll, removed: []string{"Federated:arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}, external: true},
		{name: "GitHub OIDC with any-owner subject", in: stmt(`{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}`,
			`{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:*"}}`),
			want: denyAll, removed: []string{"Federated:arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}, external: true},
		{name: "GitHub OIDC with owner-prefix wildcard", in: stmt(`{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}`,
			`{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:my-org*"}}`),
			want: denyAll, removed: []string{"Federated:arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}, external: true},
		{name: "EKS OIDC with audience", in: stmt(`{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"}`,
			`{"StringEquals":{"oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:aud":"sts.amazonaws.com"}}`)},
		{name: "EKS OIDC without condition", in: stmt(`{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"}`, ""),
			want: denyAll, removed: []string{"Federated:arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"}, external: true},
		{name: "OIDC in foreign account", in: stmt(`{"Federated":"arn:aws:iam::999988887777:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"}`,
			`{"StringEquals":{"oidc.eks.us-east-1.amazonaws.com/id/X:sub":"system:serviceaccount:default:app"}}`),
			want: denyAll, removed: []string{"Federated:arn:aws:iam::999988887777:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"}, external: true},

		// Public web identity: only with an audience condition.
		{name: "Cognito with audience", in: stmt(`{"Federated":"cognito-identity.amazonaws.com"}`, `{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:12345678-abcd-abcd-abcd-123456789012"},"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}`)},
		{name: "Cognito without audience", in: stmt(`{"Federated":"cognito-identity.amazonaws.com"}`, `{"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}`),
			want: denyAll, removed: []string{"Federated:cognito-identity.amazonaws.com"}, external: true},
		{name: "Google with audience", in: stmt(`{"Federated":"accounts.google.com"}`, `{"StringEquals":{"accounts.google.com:aud":"66677788899.apps.googleusercontent.com"}}`)},
		{name: "Google with StringLike audience", in: stmt(`{"Federated":"accounts.google.com"}`, `{"StringLike":{"accounts.google.com:aud":"*"}}`),
			want: denyAll, removed: []string{"Federated:accounts.google.com"}, external: true},
		{name: "Facebook with app_id", in: stmt(`{"Federated":"graph.facebook.com"}`, `{"StringEquals":{"graph.facebook.com:app_id":"1234567890"}}`)},
		{name: "Login with Amazon without audience", in: stmt(`{"Federated":"www.amazon.com"}`, ""),
			want: denyAll, removed: []string{"Federated:www.amazon.com"}, external: true},

		// Never valid for roles.
		{name: "CanonicalUser", in: stmt(`{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}`, ""),
			want: denyAll, removed: []string{"CanonicalUser:79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}, external: true},
		{name: "templated ARN", in: stmt(`{"AWS":"arn:${partition}:iam::${account_id}:root"}`, ""), want: denyAll, removed: []string{"AWS:arn:${partition}:iam::${account_id}:root"}, external: true},
		{name: "wildcard inside ARN", in: stmt(`{"AWS":"arn:aws:iam::111122223333:role/*"}`, ""), want: denyAll, removed: []string{"AWS:arn:aws:iam::111122223333:role/*"}, external: true},
		{name: "other partition", in: stmt(`{"AWS":"arn:aws-cn:iam::111122223333:root"}`, ""), want: denyAll, removed: []string{"AWS:arn:aws-cn:iam::111122223333:root"}, external: true},
		{name: "unknown principal type", in: stmt(`{"${trusted_entity_type}":["x"]}`, ""), want: denyAll, removed: []string{"${trusted_entity_type}:x"}, external: true},
		{name: "malformed account", in: stmt(`{"AWS":"12345"}`, ""), want: denyAll, removed: []string{"AWS:12345"}, external: true},

		// NotPrincipal: an Allow with it is removed whole; a Deny with it is kept.
		{name: "NotPrincipal allow", in: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`,
			want:    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`,
			removed: []string{"NotPrincipal.AWS:arn:aws:iam::111122223333:root"}, external: true, flagged: []string{"Service:ec2.amazonaws.com"}},
		{name: "NotPrincipal deny kept", in: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"},{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/Admin"},"Action":"sts:AssumeRole"}]}`},
		{name: "deny with foreign principal kept", in: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"999988887777"},"Action":"sts:*"},{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}]}`},
	})
}

// TestConditionForms covers every restricting and non-restricting condition
// form of DESIGN.md §4, each applied to {"AWS":"*"}.
func TestConditionForms(t *testing.T) {
	restricting := map[string]string{
		"PrincipalAccount StringEquals own":           `{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}`,
		"PrincipalAccount StringEquals own+trusted":   `{"StringEquals":{"aws:PrincipalAccount":["111122223333","444455556666"]}}`,
		"PrincipalAccount StringEqualsIgnoreCase":     `{"StringEqualsIgnoreCase":{"aws:PrincipalAccount":"444455556666"}}`,
		"PrincipalOrgID StringEquals":                 `{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`,
		"PrincipalOrgID key in other case":            `{"StringEquals":{"AWS:PrincipalOrgId":"o-a1b2c3d4e5"}}`,
		"PrincipalOrgPaths ForAnyValue:StringLike":    `{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-a1b2c3d4e5/*"}}`,
		"PrincipalOrgPaths ForAnyValue:StringEquals":  `{"ForAnyValue:StringEquals":{"aws:PrincipalOrgPaths":"o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"}}`,
		"PrincipalArn ArnEquals":                      `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/Deployer"}}`,
		"PrincipalArn ArnLike":                        `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::444455556666:role/*"}}`,
		"PrincipalArn StringEquals":                   `{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/Deployer"}}`,
		"PrincipalArn StringLike":                     `{"StringLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/ci-*"}}`,
		"one restricting key among others (keys AND)": `{"StringEquals":{"sts:ExternalId":"secret","aws:PrincipalOrgID":"o-a1b2c3d4e5"},"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`,
	}
	notRestricting := map[string]string{
		"PrincipalAccount with a foreign value":        `{"StringEquals":{"aws:PrincipalAccount":["111122223333","999988887777"]}}`,
		"PrincipalAccount StringEqualsIfExists":        `{"StringEqualsIfExists":{"aws:PrincipalAccount":"111122223333"}}`,
		"PrincipalAccount StringNotEquals":             `{"StringNotEquals":{"aws:PrincipalAccount":"999988887777"}}`,
		"PrincipalAccount StringLike":                  `{"StringLike":{"aws:PrincipalAccount":"1111*"}}`,
		"PrincipalAccount ForAllValues":                `{"ForAllValues:StringEquals":{"aws:PrincipalAccount":"111122223333"}}`,
		"PrincipalAccount empty list":                  `{"StringEquals":{"aws:PrincipalAccount":[]}}`,
		"PrincipalOrgID untrusted org":                 `{"StringEquals":{"aws:PrincipalOrgID":"o-zzzzzzzzzz"}}`,
		"PrincipalOrgID StringLike with wildcard":      `{"StringLike":{"aws:PrincipalOrgID":"o-a1b2c3d4e5*"}}`,
		"PrincipalOrgID StringEqualsIfExists":          `{"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`,
		"PrincipalOrgID ForAllValues:StringEquals":     `{"ForAllValues:StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`,
		"PrincipalOrgID StringNotEquals":               `{"StringNotEquals":{"aws:PrincipalOrgID":"o-zzzzzzzzzz"}}`,
		"PrincipalOrgPaths wildcard org":               `{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-*/*"}}`,
		"PrincipalOrgPaths untrusted org":              `{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-zzzzzzzzzz/*"}}`,
		"PrincipalOrgPaths ForAllValues":               `{"ForAllValues:StringLike":{"aws:PrincipalOrgPaths":"o-a1b2c3d4e5/*"}}`,
		"PrincipalOrgPaths without set operator":       `{"StringLike":{"aws:PrincipalOrgPaths":"o-a1b2c3d4e5/*"}}`,
		"PrincipalArn wildcard account":                `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Deployer"}}`,
		"PrincipalArn foreign account":                 `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::999988887777:role/Deployer"}}`,
		"PrincipalArn StringLike wildcard before acct": `{"StringLike":{"aws:PrincipalArn":"arn:aws:*:111122223333:role/x"}}`,
		"PrincipalArn ArnLikeIfExists":                 `{"ArnLikeIfExists":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}`,
		"PrincipalArn ArnNotLike":                      `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::999988887777:*"}}`,
		"PrincipalArn other partition":                 `{"ArnLike":{"aws:PrincipalArn":"arn:aws-cn:iam::111122223333:role/*"}}`,
		"sts:ExternalId":                               `{"StringEquals":{"sts:ExternalId":"shared-secret"}}`,
		"aws:SourceIp":                                 `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`,
		"aws:SourceVpc":                                `{"StringEquals":{"aws:SourceVpc":"vpc-1a2b3c4d"}}`,
		"aws:SourceVpce":                               `{"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}`,
		"operator in wrong case":                       `{"stringequals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`,
	}
	var cases []restrictCase
	for name, cond := range restricting {
		cases = append(cases, restrictCase{name: "restricting/" + name, in: stmt(`{"AWS":"*"}`, cond)})
	}
	for name, cond := range notRestricting {
		cases = append(cases, restrictCase{name: "not restricting/" + name, in: stmt(`{"AWS":"*"}`, cond), want: denyAll, removed: []string{"AWS:*"}, external: true})
	}
	runCases(t, cases)
}

// TestRewriteShape checks that a rewrite removes only what it must and keeps
// the shape and content of everything else.
func TestRewriteShape(t *testing.T) {
	runCases(t, []restrictCase{
		{
			name: "single statement object stays an object, list stays a list",
			in: `{"Version":"2012-10-17","Id":"keep-me","Statement":{"Sid":"Mixed","Effect":"Allow",
				"Principal":{"AWS":["arn:aws:iam::999988887777:root","111122223333"],"Service":"ec2.amazonaws.com"},
				"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"Bool":{"aws:MultiFactorAuthPresent":true}},"X-Unknown":{"kept":[1,2.5e3]}}}`,
			want:     `{"Version":"2012-10-17","Id":"keep-me","Statement":{"Sid":"Mixed","Effect":"Allow","Principal":{"AWS":["111122223333"],"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"Bool":{"aws:MultiFactorAuthPresent":true}},"X-Unknown":{"kept":[1,2.5e3]}}}`,
			removed:  []string{"AWS:arn:aws:iam::999988887777:root"},
			external: true,
			flagged:  []string{"Service:ec2.amazonaws.com"},
		},
		{
			name:    "emptied type dropped, other types kept in order",
			in:      `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com","AWS":"999988887777","Federated":"arn:aws:iam::111122223333:saml-provider/Okta"},"Action":"sts:AssumeRole"}]}`,
			want:    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com","Federated":"arn:aws:iam::111122223333:saml-provider/Okta"},"Action":"sts:AssumeRole"}]}`,
			removed: []string{"AWS:999988887777"}, external: true, flagged: []string{"Service:lambda.amazonaws.com"},
		},
		{
			name: "emptied statement dropped, others untouched byte for byte",
			in: `{"Version":"2012-10-17","Statement":[
				{"Sid":"Bad","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:role/x"},"Action":"sts:AssumeRole"},
				{"Sid":"Good","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"a b+c/=&é"}}}]}`,
			want:    `{"Version":"2012-10-17","Statement":[{"Sid":"Good","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"a b+c/=&é"}}}]}`,
			removed: []string{"AWS:arn:aws:iam::999988887777:role/x"}, external: true,
		},
		{
			name: "statement with no principal is left alone",
			in:   `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`,
		},
		{
			name:    "only deny left: no fallback added",
			in:      `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole","Condition":{"Bool":{"aws:SecureTransport":"false"}}},{"Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":"sts:AssumeRole"}]}`,
			want:    `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`,
			removed: []string{"AWS:999988887777"}, external: true,
		},
		{
			name: "URL-encoded input",
			in:   `%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22AWS%22%3A%22arn%3Aaws%3Aiam%3A%3A999988887777%3Aroot%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D`,
			want: denyAll, removed: []string{"AWS:arn:aws:iam::999988887777:root"}, external: true,
		},
	})
}

func TestZoneValidate(t *testing.T) {
	for _, z := range []Zone{
		{Account: ""},
		{Account: "12345678901"},
		{Account: "111122223333", TrustedAccounts: []string{"abc"}},
		{Account: "111122223333", TrustedOrgIDs: []string{"r-abcd"}},
		{Account: "111122223333", Partition: "AWS"},
	} {
		if err := z.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", z)
		}
		if _, err := Restrict(&policy.Document{}, z); err == nil {
			t.Errorf("Restrict with zone %+v succeeded, want an error", z)
		}
	}
	if err := testZone.Validate(); err != nil {
		t.Fatalf("testZone: %v", err)
	}
}

func TestAnalyzeWritesNothing(t *testing.T) {
	doc, err := policy.Parse([]byte(stmt(`{"AWS":["999988887777","111122223333"]}`, "")))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Analyze(doc, testZone)
	if err != nil {
		t.Fatal(err)
	}
	if res.Policy != nil {
		t.Errorf("Analyze returned a policy")
	}
	if len(res.Principals) != 2 || res.Principals[0].Trusted || !res.Principals[1].Trusted {
		t.Errorf("verdicts = %+v", res.Principals)
	}
	if got := res.Untrusted(); len(got) != 1 || got[0].Value != "999988887777" || got[0].Kind != KindForeignAccount {
		t.Errorf("Untrusted() = %+v", got)
	}
}

func TestNameChecks(t *testing.T) {
	for _, tc := range []struct {
		fn   func(string) bool
		name string
		in   string
		want bool
	}{
		{isPartition, "partition", "aws", true},
		{isPartition, "partition", "aws-cn", true},
		{isPartition, "partition", "aws-us-gov", true},
		{isPartition, "partition", "aws-", false},
		{isPartition, "partition", "aws--cn", false},
		{isPartition, "partition", "awsx", false},
		{isPartition, "partition", "AWS", false},
		{isOrgID, "org", "o-a1b2c3d4e5", true},
		{isOrgID, "org", "o-a1b2c3d4", false},
		{isOrgID, "org", "o-A1B2C3D4E5", false},
		{isServiceName, "service", "lambda.amazonaws.com", true},
		{isServiceName, "service", "states.us-east-1.amazonaws.com", true},
		{isServiceName, "service", "ec2.amazonaws.com.cn", true},
		{isServiceName, "service", "Lambda.AmazonAWS.com", true},
		{isServiceName, "service", ".amazonaws.com", false},
		{isServiceName, "service", "*.amazonaws.com", false},
		{isServiceName, "service", "a..amazonaws.com", false},
		{isServiceName, "service", "-x.amazonaws.com", false},
		{isServiceName, "service", "evil.com", false},
		{isIAMName, "iam name", "app/Deployer", true},
		{isIAMName, "iam name", "a+b=c,d.e@f_g-h", true},
		{isIAMName, "iam name", "a//b", false},
		{isIAMName, "iam name", "role*", false},
		{isIAMName, "iam name", "", false},
		{isUniqueID, "unique ID", "AROAZFRV7IUIVTOGNCJUN", true},
		{isUniqueID, "unique ID", "AIDAJQABLZS4A3QDU576Q", true},
		{isUniqueID, "unique ID", "AKIAJQABLZS4A3QDU576Q", false},
		{isUniqueID, "unique ID", "AROA-short", false},
	} {
		if got := tc.fn(tc.in); got != tc.want {
			t.Errorf("%s(%q) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
}

// TestDanglingInDeny: IAM refuses to save a trust policy naming a deleted
// principal's unique ID, so when a policy must be written anyway, such IDs
// leave Deny statements too; when nothing else changes, nothing is written.
func TestDanglingInDeny(t *testing.T) {
	runCases(t, []restrictCase{
		{
			name: "untouched when nothing else changes",
			in:   `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":["AROAZFRV7IUIVTOGNCJUN","999988887777"]},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}]}`,
		},
		{
			name:     "removed with the foreign principal",
			in:       `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":["AROAZFRV7IUIVTOGNCJUN","999988887777"]},"Action":"sts:AssumeRole"},{"Effect":"Deny","Principal":{"AWS":"AIDAJQABLZS4A3QDU576Q"},"Action":"sts:AssumeRole"},{"Effect":"Deny","NotPrincipal":{"AWS":"AIDAJQABLZS4A3QDU576Q"},"Action":"sts:TagSession"},{"Effect":"Allow","Principal":{"AWS":["111122223333","999988887777"]},"Action":"sts:AssumeRole"}]}`,
			want:     `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":["999988887777"]},"Action":"sts:AssumeRole"},{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:TagSession"},{"Effect":"Allow","Principal":{"AWS":["111122223333"]},"Action":"sts:AssumeRole"}]}`,
			removed:  []string{"AWS:999988887777", "AWS:AROAZFRV7IUIVTOGNCJUN", "AWS:AIDAJQABLZS4A3QDU576Q", "NotPrincipal.AWS:AIDAJQABLZS4A3QDU576Q"},
			external: true,
		},
	})
}
