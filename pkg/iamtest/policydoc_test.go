package iamtest

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/lockdown"
)

func TestValidateTrustPolicy(t *testing.T) {
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":` + s + `}` }
	tests := []struct {
		name string
		doc  string
		msg  string // "" = valid
	}{
		{"service", lambdaTrust, ""},
		{"single statement object", stmt(`{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}`), ""},
		{"account id", stmt(`[{"Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":"sts:AssumeRole"}]`), ""},
		{"foreign role and assumed role", stmt(`[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::999988887777:role/x/y","arn:aws:sts::999988887777:assumed-role/r/s"]},"Action":["sts:AssumeRole","sts:TagSession"]}]`), ""},
		{"wildcard AWS", stmt(`[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}]`), ""},
		{"bare star accepted by default", stmt(`[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]`), ""},
		{"github oidc", stmt(`[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:o/r:*"}}}]`), ""},
		{"cognito", stmt(`[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:12345678-abcd-abcd-abcd-123456789012"}}}]`), ""},
		{"deny with NotPrincipal", stmt(`[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]`), ""},
		{"latin-1 in condition", stmt(`[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:RequestTag/team":"café"}}}]`), ""},
		{"not an object", `[]`, "Syntax errors in policy."},
		{"trailing garbage", lambdaTrust + `{}`, "Syntax errors in policy."},
		{"empty", "  ", "Syntax errors in policy."},
		{"unknown top-level element", `{"Version":"2012-10-17","Statment":[]}`, "Syntax errors in policy."},
		{"bad version", `{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`, "legacy parsing"},
		{"empty statement list", stmt(`[]`), "Syntax errors in policy."},
		{"duplicate element", stmt(`[{"Effect":"Allow","Principal":{"AWS":"999988887777"},"Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]`), "Syntax errors in policy."},
		{"missing effect", stmt(`[{"Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]`), "Syntax errors in policy."},
		{"lower-case effect", stmt(`[{"Effect":"allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]`), "Invalid effect: allow"},
		{"no action", stmt(`[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"}}]`), "Policy statement must contain actions."},
		{"action without vendor", stmt(`[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"AssumeRole"}]`), "prefaced by a vendor"},
		{"no principal", stmt(`[{"Effect":"Allow","Action":"sts:AssumeRole"}]`), "Missing required field Principal"},
		{"NotPrincipal with allow", stmt(`[{"Effect":"Allow","NotPrincipal":{"AWS":"999988887777"},"Action":"sts:AssumeRole"}]`), "Has prohibited field NotPrincipal"},
		{"resource in trust", stmt(`[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}]`), "Has prohibited field Resource"},
		{"bare principal not star", stmt(`[{"Effect":"Allow","Principal":"999988887777","Action":"sts:AssumeRole"}]`), `Invalid principal in policy: "STAR":"999988887777"`},
		{"unknown principal type", stmt(`[{"Effect":"Allow","Principal":{"Account":"999988887777"},"Action":"sts:AssumeRole"}]`), `Invalid principal in policy: "ACCOUNT"`},
		{"short account id", stmt(`[{"Effect":"Allow","Principal":{"AWS":"12345"},"Action":"sts:AssumeRole"}]`), `Invalid principal in policy: "AWS":"12345"`},
		{"wildcard in arn", stmt(`[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"sts:AssumeRole"}]`), `Invalid principal in policy`},
		{"role arn under sts", stmt(`[{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::999988887777:role/x"},"Action":"sts:AssumeRole"}]`), `Invalid principal in policy`},
		{"bad service", stmt(`[{"Effect":"Allow","Principal":{"Service":"lambda"},"Action":"sts:AssumeRole"}]`), `Invalid principal in policy: "SERVICE":"lambda"`},
		{"bad federated", stmt(`[{"Effect":"Allow","Principal":{"Federated":"example.com"},"Action":"sts:AssumeRole"}]`), `"FEDERATED":"example.com"`},
		{"empty principal list", stmt(`[{"Effect":"Allow","Principal":{"AWS":[]},"Action":"sts:AssumeRole"}]`), "Syntax errors in policy."},
		{"condition not object", stmt(`[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Condition":"x"}]`), "Syntax errors in policy."},
		{"every trust action", stmt(`[{"Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity","sts:SetContext"]},{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":["sts:AssumeRoleWithWebIdentity"],"Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:12345678-abcd-abcd-abcd-123456789012"}}},{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:saml-provider/idp"},"Action":"sts:AssumeRoleWithSAML"}]`), ""},
		{"action case ignored", stmt(`[{"Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":"STS:TagSession"}]`), ""},
		{"non-sts action", stmt(`[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"s3:GetObject"}]`), "AssumeRole policy may only specify STS AssumeRole actions."},
		{"other sts action", stmt(`[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole","sts:GetCallerIdentity"]}]`), "AssumeRole policy may only specify STS AssumeRole actions."},
		{"sts wildcard (undocumented, refused)", stmt(`[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:*"}]`), "AssumeRole policy may only specify STS AssumeRole actions."},
		{"star action (undocumented, refused)", stmt(`[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"*"}]`), "AssumeRole policy may only specify STS AssumeRole actions."},
		{"partial wildcard (undocumented, refused)", stmt(`[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole*"}]`), "AssumeRole policy may only specify STS AssumeRole actions."},
		{"NotAction (undocumented, refused)", stmt(`[{"Effect":"Deny","Principal":{"AWS":"*"},"NotAction":"sts:AssumeRole"}]`), "AssumeRole policy may only specify STS AssumeRole actions."},
		{"character beyond U+00FF", stmt(`[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Sid":"€"}]`), "not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validateDoc(tc.doc, trustPolicy)
			switch {
			case tc.msg == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.msg != "" && err == nil:
				t.Errorf("accepted, want %q", tc.msg)
			case tc.msg != "" && (err.code != codeMalformedPolicyDocument || !strings.Contains(err.message, tc.msg)):
				t.Errorf("got %v, want MalformedPolicyDocument %q", err, tc.msg)
			}
		})
	}
}

func TestValidateIdentityPolicy(t *testing.T) {
	tests := []struct {
		name, doc, msg string
	}{
		{"allow", allowS3, ""},
		{"not action not resource", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:s3:::b/*"}}`, ""},
		{"no resource", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}`, "Policy statement must contain resources."},
		{"principal", foreignTrust, "Policy document should not specify a principal."},
		{"action and not action", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","NotAction":"s3:Get*","Resource":"*"}]}`, "Policy statement must contain actions."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validateDoc(tc.doc, identityPolicy)
			if (err == nil) != (tc.msg == "") || (err != nil && !strings.Contains(err.message, tc.msg)) {
				t.Errorf("got %v, want %q", err, tc.msg)
			}
		})
	}
}

func TestPolicySize(t *testing.T) {
	tests := []struct {
		doc  string
		want int
	}{
		{`{}`, 2},
		{"{ \n\t\"a\" : \"b c\" }", 11}, // white space inside strings counts, outside does not
		{`{"a":"\" x"}`, 12},            // escaped quote does not end the string
		{`{"é":1}`, 7},                  // characters, not bytes
	}
	for _, tc := range tests {
		if got := policySize(tc.doc); got != tc.want {
			t.Errorf("policySize(%q) = %d, want %d", tc.doc, got, tc.want)
		}
	}
}

// The stand-in's size count (encoding/json's Compact) and pkg/lockdown's
// (a hand-written scanner) are written apart from the same documented rule:
// they agree on the lockdown documents the stack deploys, on indented and
// escaped text, and both stay under IAM's 6,144 for the largest lockdown.
func TestPolicySizeAgreesWithLockdown(t *testing.T) {
	docs := []string{
		"{ \n\t\"a\" : \"b c\" }", `{"a":"\" x","b":["\u0026",1,true,null]}`, `{"é":"ü ß"}`,
	}
	for _, c := range []lockdown.Config{
		{Partition: "aws", Account: DefaultAccount},
		{Partition: "aws", Account: DefaultAccount, ExemptRoles: []string{"breakglass-*", "/exempt/"},
			ExtraDeniedActions: []string{"s3:DeleteBucket"}, AllowedTokenAudiences: []string{"https://api.example.com"}},
	} {
		doc, err := lockdown.Document(c)
		if err != nil {
			t.Fatal(err)
		}
		var indented bytes.Buffer
		if err := json.Indent(&indented, doc, "", "  "); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(doc), indented.String())
	}
	for _, d := range docs {
		if got, want := policySize(d), lockdown.Size([]byte(d)); got != want {
			t.Errorf("policySize = %d, lockdown.Size = %d for %.80q", got, want, d)
		}
	}
}

// TestDeletedPrincipalShowsUniqueID follows IAM's documented behaviour: a
// role or user named in a trust policy is stored by unique ID; after it is
// deleted the policy shows the bare ID, a same-named replacement does not
// restore the trust, and writing the ID back is rejected.
func TestDeletedPrincipalShowsUniqueID(t *testing.T) {
	srv, c := newTestServer(t)
	ctx := context.Background()
	caller := mustCreateRole(t, c, "caller", lambdaTrust)
	userARN, err := srv.SeedUser("alice")
	if err != nil {
		t.Fatal(err)
	}
	callerARN := *caller.Role.Arn
	// The caller ARN also appears in a condition, which IAM does not touch.
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["` + callerARN + `", "` + userARN + `", "999988887777"]},"Action":"sts:AssumeRole","Condition":{"ArnEquals":{"aws:PrincipalArn":"` + callerARN + `"}}}]}`
	mustCreateRole(t, c, "target", trust)

	get := func() string {
		t.Helper()
		g, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("target")})
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, g.Role.AssumeRolePolicyDocument)
	}
	if got := get(); got != trust {
		t.Fatalf("live principals: got %s, want the document as submitted", got)
	}

	if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("caller")}); err != nil {
		t.Fatal(err)
	}
	srv.deleteUser("alice")
	userID := ""
	for id := range srv.st.ids {
		if strings.HasPrefix(id, "AIDA") {
			userID = id
		}
	}
	want := strings.Replace(strings.Replace(trust, `"`+callerARN+`",`, `"`+*caller.Role.RoleId+`",`, 1), `"`+userARN+`"`, `"`+userID+`"`, 1)
	if got := get(); got != want {
		t.Fatalf("after delete:\n got %s\nwant %s", got, want)
	}
	st, _ := srv.Role("target")
	if st.TrustPolicy != want {
		t.Errorf("Role() trust = %s", st.TrustPolicy)
	}

	// Recreating a role with the same name does not restore the trust.
	mustCreateRole(t, c, "caller", lambdaTrust)
	if got := get(); got != want {
		t.Errorf("after recreate: %s", got)
	}
	// Writing back the document with a dangling ID fails, as IAM does.
	err = updateTrust(c, "target", want)()
	if code, _ := apiCode(err); code != codeMalformedPolicyDocument || !strings.Contains(err.Error(), *caller.Role.RoleId) {
		t.Errorf("writing a dangling ID: %v", err)
	}
	// A unique ID of a live role is accepted and shown as that role's ARN.
	live, _ := srv.Role("caller")
	byID := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + live.ID + `"},"Action":"sts:AssumeRole"}]}`
	if err := updateTrust(c, "target", byID)(); err != nil {
		t.Fatal(err)
	}
	if got := get(); !strings.Contains(got, `"AWS":"`+live.ARN+`"`) {
		t.Errorf("live unique ID rendered as %s", got)
	}
}

func TestBareWildcardPrincipalOption(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}`
	_, c := newTestServer(t)
	mustCreateRole(t, c, "open", doc)

	_, strict := newTestServer(t, WithBareWildcardPrincipalRejected())
	_, err := strict.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String("open"), AssumeRolePolicyDocument: aws.String(doc)})
	if code, _ := apiCode(err); code != codeMalformedPolicyDocument {
		t.Errorf("strict server accepted a bare wildcard: %v", err)
	}
}

func TestSeedRole(t *testing.T) {
	srv, c := newTestServer(t)
	legacy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"AROAAAAAAAAAAAAAAAAAA"},"Action":"sts:AssumeRole"}]}`
	lock, err := srv.SeedPolicy("GuardrailLockdown", `{"Version":"2012-10-17","Statement":[{"Sid":"x","Effect":"Deny","Action":"iam:CreateUser","Resource":"*"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	arn, err := srv.SeedRole(Role{
		Name: "legacy", Path: "/old/", TrustPolicy: legacy, Tags: map[string]string{"a": "b"},
		AttachedPolicyARNs: []string{lock, adminARN}, InlinePolicies: map[string]string{"i": allowS3},
		PermissionsBoundary: denyAllARN,
	})
	if err != nil || arn != "arn:aws:iam::111122223333:role/old/legacy" {
		t.Fatalf("SeedRole = %s, %v", arn, err)
	}
	if srv.Calls("") != 0 {
		t.Errorf("seeding counted %d calls", srv.Calls(""))
	}
	g, err := c.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String("legacy")})
	if err != nil || decode(t, g.Role.AssumeRolePolicyDocument) != legacy {
		t.Fatalf("GetRole of seeded role: %v", err)
	}
	bad := []Role{
		{Name: "x", TrustPolicy: `{`},
		{Name: "legacy", TrustPolicy: lambdaTrust},
		{Name: "bad name!", TrustPolicy: lambdaTrust},
		{Name: "y", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{"arn:aws:iam::aws:policy/Nope"}},
		{Name: "z", TrustPolicy: strings.Replace(foreignTrust, "999988887777:root", "111122223333:role/ghost", 1)},
	}
	for _, r := range bad {
		if _, err := srv.SeedRole(r); err == nil {
			t.Errorf("SeedRole(%+v) succeeded", r)
		}
	}
	if names := srv.roleNames(); len(names) != 1 || names[0] != "legacy" {
		t.Errorf("RoleNames = %v", names)
	}
}
