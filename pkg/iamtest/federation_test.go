package iamtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/policy"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// Issue 22 §1: IAM refuses CreateRole and UpdateAssumeRolePolicy for a trust
// policy that trusts a shared OIDC provider on its list without evaluating
// the provider's control (IAM User Guide, "Identity-provider controls for
// shared OIDC providers", id_roles_providers_oidc_secure-by-default.html).
// Exercised through the AWS SDK.

const fedAccount = "000000000001"

func webTrust(provider, condition string) string {
	s := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider + `"},"Action":"sts:AssumeRoleWithWebIdentity"`
	if condition != "" {
		s += `,"Condition":` + condition
	}
	return s + `}]}`
}

func TestIdentityProviderControls(t *testing.T) {
	oidc := "arn:aws:iam::" + fedAccount + ":oidc-provider/"
	gh := oidc + "token.actions.githubusercontent.com"
	const ghAud = `"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"`
	tests := []struct {
		name, doc string
		refused   bool
	}{
		// [page] the control is the claim the page's table lists per provider.
		{"GitHub audience only", webTrust(gh, `{"StringEquals":{`+ghAud+`}}`), true},
		{"GitHub without a condition", webTrust(gh, ""), true},
		{"GitHub subject", webTrust(gh, `{"StringEquals":{`+ghAud+`},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}`), false},
		{"GitHub subject, key in other case", webTrust(gh, `{"StringLike":{"Token.Actions.GitHubUserContent.com:SUB":"repo:acme/*"}}`), false},
		{"GitHub issuer in other case", webTrust(oidc+"TOKEN.actions.githubusercontent.com", `{"StringEquals":{`+ghAud+`}}`), true},
		{"GitHub subject by ForAnyValue:", webTrust(gh, `{"ForAnyValue:StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}`), false},
		{"GitHub subject StringEqualsIgnoreCase", webTrust(gh, `{"StringEqualsIgnoreCase":{"token.actions.githubusercontent.com:sub":"repo:acme/app:ref:refs/heads/main"}}`), false},
		// Forms the page does not document as satisfying the rule: refused
		// (the stand-in never accepts what IAM might refuse).
		{"GitHub subject IfExists", webTrust(gh, `{"StringLikeIfExists":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}`), true},
		{"GitHub subject ForAllValues:", webTrust(gh, `{"ForAllValues:StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}`), true},
		{"GitHub subject negated", webTrust(gh, `{"StringNotLike":{"token.actions.githubusercontent.com:sub":"repo:evil/*"}}`), true},
		{"GitHub subject wildcard only", webTrust(gh, `{"StringLike":{"token.actions.githubusercontent.com:sub":"*"}}`), true},
		{"GitHub subject Null only", webTrust(gh, `{"Null":{"token.actions.githubusercontent.com:sub":"false"}}`), true},
		{"GitHub claim key instead of the subject", webTrust(gh, `{"StringEquals":{"token.actions.githubusercontent.com:repository_owner_id":"123456"}}`), true},
		// Issuers not on the list.
		{"GitHub per-enterprise issuer", webTrust(gh+"/acme-inc", `{"StringEquals":{"token.actions.githubusercontent.com/acme-inc:aud":"sts.amazonaws.com"}}`), false},
		{"HCP Terraform Europe", webTrust(oidc+"app.eu.terraform.io", `{"StringEquals":{"app.eu.terraform.io:aud":"aws.workload.identity"}}`), false},
		{"EKS cluster", webTrust(oidc+"oidc.eks.us-east-1.amazonaws.com/id/ABC", `{"StringEquals":{"oidc.eks.us-east-1.amazonaws.com/id/ABC:aud":"sts.amazonaws.com"}}`), false},
		// Other providers on the list.
		{"GitLab.com audience only", webTrust(oidc+"gitlab.com", `{"StringEquals":{"gitlab.com:aud":"https://gitlab.com"}}`), true},
		{"GitLab.com subject", webTrust(oidc+"gitlab.com", `{"StringLike":{"gitlab.com:sub":"project_path:acme/*"}}`), false},
		{"HCP Terraform subject", webTrust(oidc+"app.terraform.io", `{"StringLike":{"app.terraform.io:sub":"organization:acme:*"}}`), false},
		{"Buildkite audience only", webTrust(oidc+"agent.buildkite.com", `{"StringEquals":{"agent.buildkite.com:aud":"sts.amazonaws.com"}}`), true},
		{"DataChain issuer with a path", webTrust(oidc+"studio.datachain.ai/api", `{"StringEquals":{"studio.datachain.ai/api:aud":"x"}}`), true},
		// [page] Pulumi and Vercel: aud (AWS's RCP sample uses sub; the page is followed).
		{"Pulumi subject only", webTrust(oidc+"api.pulumi.com/oidc", `{"StringLike":{"api.pulumi.com/oidc:sub":"pulumi:deploy:org:acme:*"}}`), true},
		{"Pulumi audience", webTrust(oidc+"api.pulumi.com/oidc", `{"StringEquals":{"api.pulumi.com/oidc:aud":"acme"}}`), false},
		{"Vercel subject only", webTrust(oidc+"oidc.vercel.com", `{"StringLike":{"oidc.vercel.com:sub":"owner:acme:*"}}`), true},
		{"Vercel audience", webTrust(oidc+"oidc.vercel.com", `{"StringEquals":{"oidc.vercel.com:aud":"https://vercel.com/acme"}}`), false},
		{"Vercel team issuer", webTrust(oidc+"oidc.vercel.com/acme", `{"StringLike":{"oidc.vercel.com/acme:sub":"owner:acme:*"}}`), false},
		{"sandboxes.cloud audience", webTrust(oidc+"sandboxes.cloud", `{"StringEquals":{"sandboxes.cloud:aud":"acme"}}`), false},
		{"sandboxes.cloud subject only", webTrust(oidc+"sandboxes.cloud", `{"StringLike":{"sandboxes.cloud:sub":"acme*"}}`), true},
		{"Microsoft Sentinel session name", webTrust(oidc+"sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d", `{"StringEquals":{"sts:RoleSessionName":"acme"}}`), false},
		{"Microsoft Sentinel audience only", webTrust(oidc+"sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d", `{"StringEquals":{"sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d:aud":"x"}}`), true},
		{"Turbonomic issuer", webTrust(oidc+"oidc.op1.openshiftapps.com/2c51blsaqa9gkjt0o9rt11mle8mmropu", ""), true},
		// [STS API Reference, AssumeRoleWithWebIdentity RoleArn] Cognito identity pools need aud.
		{"Cognito without aud", webTrust("cognito-identity.amazonaws.com", `{"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}`), true},
		{"Cognito with aud", webTrust("cognito-identity.amazonaws.com", `{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:12345678-abcd-abcd-abcd-123456789012"}}`), false},
		// The rule is about trusting the provider: a Deny naming it grants nothing.
		{"Deny naming the provider", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"},{"Effect":"Deny","Principal":{"Federated":"` + gh + `"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`, false},
		{"second statement without the control", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + gh + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}},{"Effect":"Allow","Principal":{"Federated":"` + gh + `"},"Action":"sts:TagSession"}]}`, true},
	}
	srv, c := newTestServer(t, WithAccount(fedAccount))
	ctx := context.Background()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("fed-%02d", i)
			_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(tc.doc)})
			checkRefusal(t, "CreateRole", err, tc.refused)
			// An existing role (created before June 2025) is not re-evaluated,
			// but its next trust-policy update must comply.
			legacy := name + "-legacy"
			if _, err := srv.SeedRole(Role{Name: legacy, TrustPolicy: tc.doc}); err != nil {
				t.Fatalf("seed: %v", err)
			}
			_, err = c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(legacy), PolicyDocument: aws.String(tc.doc)})
			checkRefusal(t, "UpdateAssumeRolePolicy", err, tc.refused)
		})
	}
}

func checkRefusal(t *testing.T, api string, err error, refused bool) {
	t.Helper()
	if !refused {
		if err != nil {
			t.Errorf("%s refused: %v", api, err)
		}
		return
	}
	code, status := apiCode(err)
	if err == nil || code != codeMalformedPolicyDocument || status != 400 {
		t.Errorf("%s = %v (%s %d), want MalformedPolicyDocument 400", api, err, code, status)
	} else if !strings.Contains(err.Error(), "identity-provider controls") {
		t.Errorf("%s error does not say why: %v", api, err)
	}
}

// TestRewritesAreWritable proves that the trust engine never keeps a
// statement IAM would refuse on write: every trust policy of the corpus,
// with its OIDC providers moved into the role's own account (so that they
// are judged on their conditions, not dropped as foreign), plus legacy
// shared-issuer policies the rule now refuses, is seeded as an existing
// role; whenever trust.Restrict rewrites it, UpdateAssumeRolePolicy must
// accept the rewrite.
func TestRewritesAreWritable(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/corpus/trust/*.json")
	if len(files) == 0 {
		t.Fatal("corpus not found in testdata/corpus")
	}
	own := regexp.MustCompile(`arn:aws:iam::[^:"]*:oidc-provider/`)
	docs := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[filepath.Base(f)] = own.ReplaceAllString(string(raw), "arn:aws:iam::"+fedAccount+":oidc-provider/")
	}
	// Legacy policies: each kept by the engine while nothing is written, but
	// refused by IAM on write; a foreign account forces the write.
	gh := "arn:aws:iam::" + fedAccount + ":oidc-provider/token.actions.githubusercontent.com"
	foreign := `{"Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":"sts:AssumeRole"}`
	for name, cond := range map[string]string{
		"owner ID key only":             `{"StringEquals":{"token.actions.githubusercontent.com:repository_owner_id":"123456"}}`,
		"ForAllValues sub with Null":    `{"Null":{"token.actions.githubusercontent.com:sub":"false"},"ForAllValues:StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}`,
		"IfExists sub with Null":        `{"Null":{"token.actions.githubusercontent.com:sub":"false"},"StringLikeIfExists":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}`,
		"repository key and aud":        `{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:repository":"acme/app"}}`,
		"sub is kept alongside":         `{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}`,
		"immutable sub is kept":         `{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme@123456/*"}}`,
		"Pulumi subject without aud":    `{"StringLike":{"api.pulumi.com/oidc:sub":"pulumi:deploy:org:acme:*"}}`,
		"Cognito without aud condition": `{"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}`,
	} {
		provider := gh
		switch {
		case strings.Contains(cond, "pulumi"):
			provider = "arn:aws:iam::" + fedAccount + ":oidc-provider/api.pulumi.com/oidc"
		case strings.Contains(cond, "cognito"):
			provider = "cognito-identity.amazonaws.com"
		}
		docs["legacy: "+name] = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider +
			`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":` + cond + `},` + foreign + `]}`
	}
	docs["legacy: Deny-confined audience"] = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + gh +
		`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}},` +
		`{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringNotLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}},` + foreign + `]}`

	srv, c := newTestServer(t, WithAccount(fedAccount))
	ctx := context.Background()
	zones := []trust.Zone{{Account: fedAccount}, {Account: fedAccount, TrustedOIDCTenants: []string{"github:acme"}}}
	rewritten, keptShared := 0, 0
	i := 0
	for name, doc := range docs {
		parsed, err := policy.Parse([]byte(doc))
		if err != nil {
			continue // not a policy the engine reads; IAM would refuse it too
		}
		for _, z := range zones {
			res, err := trust.Restrict(parsed, z)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !res.Changed {
				continue
			}
			i++
			role := fmt.Sprintf("rw-%03d", i)
			if _, err := srv.SeedRole(Role{Name: role, TrustPolicy: doc}); err != nil {
				t.Logf("%s: not seedable: %v", name, err)
				continue
			}
			out := res.Policy.String()
			if _, err := c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(role), PolicyDocument: aws.String(out)}); err != nil {
				t.Errorf("%s (tenants %v): IAM refuses the rewrite: %v\nrewrite: %s", name, z.TrustedOIDCTenants, err, out)
				continue
			}
			rewritten++
			if strings.Contains(out, "token.actions.githubusercontent.com\"") || strings.Contains(out, "oidc-provider/gitlab.com") {
				keptShared++
			}
		}
	}
	t.Logf("%d rewrites accepted, %d of them keeping a shared-issuer provider", rewritten, keptShared)
	if rewritten < 50 || keptShared == 0 {
		t.Errorf("the proof covers too little: %d rewrites, %d keeping a shared issuer", rewritten, keptShared)
	}
}
