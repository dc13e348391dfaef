package iamtest

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// TestEncodeMatchesCloudTrail checks the encoder against IAM's own output:
// CloudTrail CreateRole records carry the submitted trust policy in
// requestParameters and IAM's URL-encoded copy in responseElements.
func TestEncodeMatchesCloudTrail(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/corpus/cloudtrail/CreateRole__*.json")
	if len(files) == 0 {
		t.Fatal("corpus not found in testdata/corpus")
	}
	checked := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Detail            json.RawMessage `json:"detail"`
			RequestParameters map[string]any  `json:"requestParameters"`
			ResponseElements  map[string]any  `json:"responseElements"`
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if rec.Detail != nil {
			if err := json.Unmarshal(rec.Detail, &rec); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		submitted, ok1 := rec.RequestParameters["assumeRolePolicyDocument"].(string)
		r, _ := rec.ResponseElements["role"].(map[string]any)
		encoded, ok2 := r["assumeRolePolicyDocument"].(string)
		if !ok1 || !ok2 {
			continue
		}
		if got := encodeRFC3986(submitted); got != encoded {
			t.Errorf("%s:\n got %s\nwant %s", filepath.Base(f), got, encoded)
		}
		checked++
	}
	if checked < 5 {
		t.Fatalf("only %d corpus records had both documents", checked)
	}
}

func TestEncodeRFC3986(t *testing.T) {
	tests := []struct{ in, want string }{
		{"aZ09-._~", "aZ09-._~"},
		{"a b+c/d=e&f", "a%20b%2Bc%2Fd%3De%26f"},
		{`{"k":"é"}`, "%7B%22k%22%3A%22%C3%A9%22%7D"},
		{"\n\t%", "%0A%09%25"},
	}
	for _, tc := range tests {
		if got := encodeRFC3986(tc.in); got != tc.want {
			t.Errorf("encodeRFC3986(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestDocumentRoundTrip writes documents with characters that URL and form
// encodings treat specially and reads them back from every action that
// returns a document; both standard unescape functions must restore them.
func TestDocumentRoundTrip(t *testing.T) {
	srv, c := newTestServer(t)
	ctx := context.Background()
	trust := `{"Version":"2012-10-17","Statement":[{"Sid":"Trust","Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole",` +
		`"Condition":{"StringEquals":{"aws:RequestTag/team":"a b+c/d=e&f?g#h%20","aws:RequestTag/städte":"Zürich · naïve ÿ"}}}]}`
	perm := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/a b+c/d=e&f é"}]}`
	mustCreateRole(t, c, "rt", trust)
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("rt"), PolicyName: aws.String("p"), PolicyDocument: aws.String(perm)}); err != nil {
		t.Fatal(err)
	}
	pol, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("mp"), PolicyDocument: aws.String(perm)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("rt"), PolicyArn: pol.Policy.Arn}); err != nil {
		t.Fatal(err)
	}

	g, _ := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("rt")})
	lr, _ := c.ListRoles(ctx, &iam.ListRolesInput{})
	rp, _ := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("rt"), PolicyName: aws.String("p")})
	pv, _ := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: pol.Policy.Arn, VersionId: aws.String("v1")})
	gd, err := c.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{})
	if err != nil || len(gd.RoleDetailList) != 1 || len(gd.Policies) != 1 {
		t.Fatalf("GetAccountAuthorizationDetails = %+v, %v", gd, err)
	}
	var mpDoc *string
	for _, p := range gd.Policies {
		if *p.PolicyName == "mp" {
			mpDoc = p.PolicyVersionList[0].Document
		}
	}
	docs := []struct {
		name    string
		encoded *string
		want    string
	}{
		{"GetRole", g.Role.AssumeRolePolicyDocument, trust},
		{"ListRoles", lr.Roles[0].AssumeRolePolicyDocument, trust},
		{"GetRolePolicy", rp.PolicyDocument, perm},
		{"GetPolicyVersion", pv.PolicyVersion.Document, perm},
		{"GetAccountAuthorizationDetails role", gd.RoleDetailList[0].AssumeRolePolicyDocument, trust},
		{"GetAccountAuthorizationDetails inline", gd.RoleDetailList[0].RolePolicyList[0].PolicyDocument, perm},
		{"GetAccountAuthorizationDetails policy", mpDoc, perm},
	}
	for _, d := range docs {
		if d.encoded == nil {
			t.Errorf("%s: no document", d.name)
			continue
		}
		if *d.encoded != encodeRFC3986(d.want) {
			t.Errorf("%s: not RFC 3986 encoded: %s", d.name, *d.encoded)
		}
		p, err1 := url.PathUnescape(*d.encoded)
		q, err2 := url.QueryUnescape(*d.encoded)
		if err1 != nil || err2 != nil || p != d.want || q != d.want {
			t.Errorf("%s: round trip failed:\n path  %s\n query %s\n want  %s", d.name, p, q, d.want)
		}
	}
	if st, _ := srv.Role("rt"); st.TrustPolicy != trust || st.InlinePolicies["p"] != perm {
		t.Errorf("Role() = %+v", st)
	}
}
