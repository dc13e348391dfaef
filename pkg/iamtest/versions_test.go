package iamtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// TestPolicyVersions drives a customer managed policy through IAM's version
// rules: at most five versions, IDs never reused, the default version
// cannot be deleted, SetAsDefault and SetDefaultPolicyVersion change what
// GetPolicy and GetAccountAuthorizationDetails report.
func TestPolicyVersions(t *testing.T) {
	srv, c := newTestServer(t)
	ctx := context.Background()
	doc := func(n int) string {
		return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"S%d","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}`, n)
	}
	arn, err := srv.SeedPolicy("Lockdown", doc(1))
	if err != nil {
		t.Fatal(err)
	}
	defaultOf := func() (string, string) {
		t.Helper()
		p, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: p.Policy.DefaultVersionId})
		if err != nil {
			t.Fatal(err)
		}
		if !v.PolicyVersion.IsDefaultVersion {
			t.Errorf("default version %s not flagged default", *p.Policy.DefaultVersionId)
		}
		return *p.Policy.DefaultVersionId, decode(t, v.PolicyVersion.Document)
	}

	// v2 (not default) to v5 (default).
	for n := 2; n <= 5; n++ {
		out, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(doc(n)), SetAsDefault: n == 5})
		if err != nil {
			t.Fatal(err)
		}
		if got := *out.PolicyVersion.VersionId; got != fmt.Sprintf("v%d", n) {
			t.Errorf("version id %s, want v%d", got, n)
		}
		if out.PolicyVersion.Document != nil {
			t.Error("CreatePolicyVersion returned a document")
		}
	}
	if id, d := defaultOf(); id != "v5" || d != doc(5) {
		t.Errorf("default %s %s, want v5", id, d)
	}
	if d, _ := srv.PolicyDocument(arn); d != doc(5) {
		t.Errorf("PolicyDocument = %s, want the default version's", d)
	}

	// The sixth version is refused.
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(doc(6))})
	if code, status := apiCode(err); code != "LimitExceeded" || status != 409 {
		t.Errorf("sixth version: %v (%s %d), want LimitExceeded 409", err, code, status)
	}

	// Listing: newest first, without documents, one flagged default.
	lv, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn), MaxItems: aws.Int32(3)})
	if err != nil {
		t.Fatal(err)
	}
	if len(lv.Versions) != 3 || !lv.IsTruncated || *lv.Versions[0].VersionId != "v5" || !lv.Versions[0].IsDefaultVersion || lv.Versions[0].Document != nil {
		t.Errorf("first page: %+v truncated=%v", lv.Versions, lv.IsTruncated)
	}
	lv2, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn), Marker: lv.Marker})
	if err != nil {
		t.Fatal(err)
	}
	if len(lv2.Versions) != 2 || lv2.IsTruncated || *lv2.Versions[1].VersionId != "v1" {
		t.Errorf("second page: %+v", lv2.Versions)
	}

	// The default version cannot be deleted; another can, and its ID is
	// not reused.
	_, err = c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v5")})
	if code, _ := apiCode(err); code != "DeleteConflict" {
		t.Errorf("delete default: %v, want DeleteConflict", err)
	}
	if _, err := c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v1")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v1")})
	if code, _ := apiCode(err); code != "NoSuchEntity" {
		t.Errorf("deleted version: %v, want NoSuchEntity", err)
	}
	out, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(doc(6))})
	if err != nil || *out.PolicyVersion.VersionId != "v6" || out.PolicyVersion.IsDefaultVersion {
		t.Errorf("version after a delete: %+v %v, want v6, not default", out, err)
	}

	// SetDefaultPolicyVersion back to v2.
	if _, err := c.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v2")}); err != nil {
		t.Fatal(err)
	}
	if id, d := defaultOf(); id != "v2" || d != doc(2) {
		t.Errorf("default after SetDefaultPolicyVersion: %s %s", id, d)
	}
	_, err = c.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v9")})
	if code, _ := apiCode(err); code != "NoSuchEntity" {
		t.Errorf("missing version: %v", err)
	}

	// Invalid documents and AWS managed policies are refused.
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(lambdaTrust)})
	if code, _ := apiCode(err); code != "MalformedPolicyDocument" {
		t.Errorf("trust policy as a version: %v", err)
	}
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess"), PolicyDocument: aws.String(doc(1))})
	if err == nil {
		t.Error("version of an AWS managed policy accepted")
	}

	// GetAccountAuthorizationDetails lists every version with its document.
	gd, err := c.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{Filter: []types.EntityType{types.EntityTypeLocalManagedPolicy}})
	if err != nil {
		t.Fatal(err)
	}
	if len(gd.Policies) != 1 || len(gd.Policies[0].PolicyVersionList) != 5 || *gd.Policies[0].DefaultVersionId != "v2" {
		t.Errorf("authorization details: %+v", gd.Policies)
	}
	if srv.Calls("CreatePolicyVersion") == 0 || srv.WriteCalls() == 0 {
		t.Error("version writes not counted")
	}
}
