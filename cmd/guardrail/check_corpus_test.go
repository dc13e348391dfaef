package main

import (
	"bufio"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/iamtest"
	"github.com/iamguardrail/guardrail/pkg/policy"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// TestCheckCorpus runs `guardrail check` on every trust policy of the corpus
// (and every CloudTrail record that carries one): no rewritten policy admits
// an outsider, and every rewritten policy is accepted by the IAM stand-in's
// UpdateAssumeRolePolicy, sent through the AWS SDK.
func TestCheckCorpus(t *testing.T) {
	root := filepath.Join("..", "..", "testdata", "corpus")
	var files []string
	for _, dir := range []string{"trust", "cloudtrail"} {
		m, err := filepath.Glob(filepath.Join(root, dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatalf("no corpus files under %s", root)
	}
	const account = "123456789012" // named by no corpus policy: every account principal is foreign
	zone := trust.Zone{Account: account, TrustedOrgIDs: []string{"o-a1b2c3d4e5"}}

	srv := iamtest.NewServer(iamtest.WithAccount(account))
	defer srv.Close()
	if _, err := srv.SeedRole(iamtest.Role{Name: "corpus", TrustPolicy: testTrust}); err != nil {
		t.Fatal(err)
	}
	client := srv.Client()
	ctx := context.Background()

	// One file per invocation: a file that is not a trust policy (a record
	// of another event) makes check exit 2 for that file only.
	written, checked := 0, 0
	for _, f := range files {
		stdout, stderr, code := runCmd(t, "check", "--account", account, "--trusted-orgs", "o-a1b2c3d4e5", f)
		if code != 0 {
			if !strings.Contains(stderr, "no trust policy") && !strings.Contains(stderr, "policy:") {
				t.Errorf("%s: exit %d: %s", f, code, stderr)
			}
			continue
		}
		sc := bufio.NewScanner(strings.NewReader(stdout))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r struct {
				Changed bool            `json:"changed"`
				After   json.RawMessage `json:"trust_policy_after"`
			}
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			checked++
			after, err := policy.Parse(r.After)
			if err != nil {
				t.Errorf("%s: rewritten policy does not parse: %v", f, err)
				continue
			}
			res, err := trust.Analyze(after, zone)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for _, p := range res.Principals {
				if p.Effect == "Allow" && !p.Trusted {
					t.Errorf("%s: outsider %s left in %s", f, p, r.After)
				}
			}
			if !r.Changed {
				continue
			}
			if _, err := client.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
				RoleName: aws.String("corpus"), PolicyDocument: aws.String(string(r.After)),
			}); err != nil {
				t.Errorf("%s: IAM refuses the rewritten policy %s: %v", f, r.After, err)
			}
			written++
		}
	}
	if written == 0 {
		t.Fatal("no corpus policy was rewritten: the test checks nothing")
	}
	t.Logf("%d corpus policies checked, %d rewritten policies accepted by UpdateAssumeRolePolicy", checked, written)
}

// TestCheckTrustedAudiences: a public identity provider stays only with
// --trusted-audiences listing its audience.
func TestCheckTrustedAudiences(t *testing.T) {
	f := writeFile(t, "cognito.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:12345678-abcd-abcd-abcd-123456789012"},"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}}]}`)
	for _, tc := range []struct {
		args    []string
		changed bool
	}{
		{nil, true},
		{[]string{"--trusted-audiences", "us-east-1:99999999-abcd-abcd-abcd-123456789012"}, true},
		{[]string{"--trusted-audiences", "1234,us-east-1:12345678-abcd-abcd-abcd-123456789012"}, false},
	} {
		args := append(append([]string{"check", "--account", "111122223333"}, tc.args...), f)
		stdout, stderr, code := runCmd(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, stderr)
		}
		var r struct {
			Changed bool `json:"changed"`
		}
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		if r.Changed != tc.changed {
			t.Errorf("%v: changed = %v, want %v", tc.args, r.Changed, tc.changed)
		}
	}
}

// TestCheckTrustedOIDCTenants (issue 22 §3, §5): --trusted-oidc-tenants
// decides which owners of a shared OIDC issuer stay, and the reason names
// the form the owner was recognised in (GitHub Docs, "OpenID Connect
// reference": previous and immutable subject formats).
func TestCheckTrustedOIDCTenants(t *testing.T) {
	doc := func(sub string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},"StringLike":{"token.actions.githubusercontent.com:sub":"` + sub + `"}}}]}`
	}
	immutable, previous := writeFile(t, "immutable.json", doc("repo:acme-corp@123456/app@987654:*")), writeFile(t, "previous.json", doc("repo:someone-else/*"))
	for _, tc := range []struct {
		name, file string
		args       []string
		changed    bool
		reason     string
		risk       string
	}{
		{"immutable, unchecked", immutable, nil, false, "tenant github:acme-corp (github-id:123456), named by the GitHub immutable subject repo:OWNER@OWNER_ID/REPO@REPO_ID", "the tenant is unchecked"},
		{"immutable, trusted by ID", immutable, []string{"--trusted-oidc-tenants", "github-id:123456"}, false, "GitHub immutable subject repo:OWNER@OWNER_ID/REPO@REPO_ID (a trusted tenant)", ""},
		{"previous form, trusted by name", previous, []string{"--trusted-oidc-tenants", "github:someone-else"}, false, "named by the GitHub subject repo:OWNER/REPO (a trusted tenant)", ""},
		{"previous form, not trusted", previous, []string{"--trusted-oidc-tenants", "github:acme-corp,github-id:123456"}, true, "confined to github:someone-else, named by the GitHub subject repo:OWNER/REPO, which is not among the trusted tenants", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"check", "--account", "111122223333"}, tc.args...), tc.file)
			stdout, stderr, code := runCmd(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var r struct {
				Changed    bool `json:"changed"`
				Principals []struct {
					Reason, Risk string
				} `json:"principals"`
			}
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatal(err)
			}
			if r.Changed != tc.changed || len(r.Principals) != 1 {
				t.Fatalf("changed = %v, want %v: %s", r.Changed, tc.changed, stdout)
			}
			if p := r.Principals[0]; !strings.Contains(p.Reason, tc.reason) || !strings.Contains(p.Risk, tc.risk) || tc.risk == "" && p.Risk != "" {
				t.Errorf("reason %q / risk %q, want %q / %q", p.Reason, p.Risk, tc.reason, tc.risk)
			}
		})
	}
	if _, _, code := runCmd(t, "check", "--account", "111122223333", "--trusted-oidc-tenants", "github:*", immutable); code != 2 {
		t.Errorf("a wildcard tenant: exit %d, want 2", code)
	}
}
