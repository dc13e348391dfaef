package iamtest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

var roleIDRe = uniqueIDRe

func TestRoleLifecycle(t *testing.T) {
	fixed := time.Date(2026, 3, 1, 12, 30, 45, 0, time.UTC)
	srv, c := newTestServer(t, WithClock(func() time.Time { return fixed }))
	ctx := context.Background()

	out, err := c.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String("App-Role"),
		Path:                     aws.String("/team/app/"),
		AssumeRolePolicyDocument: aws.String(lambdaTrust),
		Description:              aws.String("runs the app"),
		MaxSessionDuration:       aws.Int32(7200),
		Tags:                     []types.Tag{{Key: aws.String("owner"), Value: aws.String("team-a")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := out.Role
	if got, want := *r.Arn, "arn:aws:iam::111122223333:role/team/app/App-Role"; got != want {
		t.Errorf("Arn = %s, want %s", got, want)
	}
	if !strings.HasPrefix(*r.RoleId, "AROA") || len(*r.RoleId) != 21 || !roleIDRe.MatchString(*r.RoleId) {
		t.Errorf("RoleId = %s, want AROA + 17 upper-case alphanumerics", *r.RoleId)
	}
	if !r.CreateDate.Equal(fixed) {
		t.Errorf("CreateDate = %v, want %v", r.CreateDate, fixed)
	}
	if *r.Path != "/team/app/" || *r.MaxSessionDuration != 7200 || *r.Description != "runs the app" {
		t.Errorf("role = %+v", r)
	}

	// Names are case-insensitive in IAM.
	g, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app-role")})
	if err != nil {
		t.Fatal(err)
	}
	if decode(t, g.Role.AssumeRolePolicyDocument) != lambdaTrust {
		t.Errorf("trust policy = %s", decode(t, g.Role.AssumeRolePolicyDocument))
	}
	if len(g.Role.Tags) != 1 || *g.Role.Tags[0].Key != "owner" || *g.Role.Tags[0].Value != "team-a" {
		t.Errorf("tags = %+v", g.Role.Tags)
	}

	if _, err := c.UpdateRole(ctx, &iam.UpdateRoleInput{
		RoleName: aws.String("App-Role"), Description: aws.String("new"), MaxSessionDuration: aws.Int32(3600),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
		RoleName: aws.String("App-Role"), PolicyDocument: aws.String(foreignTrust),
	}); err != nil {
		t.Fatal(err)
	}
	st, ok := srv.Role("App-Role")
	if !ok || st.TrustPolicy != foreignTrust || st.Description != "new" || st.MaxSessionDuration != 3600 {
		t.Errorf("state after updates = %+v", st)
	}

	if _, err := c.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String("App-Role"), Tags: []types.Tag{
		{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("cost"), Value: aws.String("42")},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String("App-Role"), TagKeys: []string{"owner"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: aws.String("App-Role")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, tg := range tags.Tags {
		keys = append(keys, *tg.Key+"="+*tg.Value)
	}
	if want := []string{"cost=42", "env=prod"}; !slices.Equal(keys, want) || tags.IsTruncated {
		t.Errorf("ListRoleTags = %v (truncated %v), want %v", keys, tags.IsTruncated, want)
	}

	if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("App-Role")}); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Role("App-Role"); ok {
		t.Error("role still exists after DeleteRole")
	}
}

func TestPoliciesAndAttachments(t *testing.T) {
	srv, c := newTestServer(t)
	ctx := context.Background()
	mustCreateRole(t, c, "app", lambdaTrust)

	cp, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{
		PolicyName: aws.String("GuardrailLockdown"), Path: aws.String("/guardrail/"),
		PolicyDocument: aws.String(allowS3), Description: aws.String("lockdown"),
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := *cp.Policy.Arn
	if arn != "arn:aws:iam::111122223333:policy/guardrail/GuardrailLockdown" || *cp.Policy.DefaultVersionId != "v1" ||
		!strings.HasPrefix(*cp.Policy.PolicyId, "ANPA") {
		t.Errorf("CreatePolicy = %+v", cp.Policy)
	}

	for _, a := range []string{arn, lambdaBasic, lambdaBasic} { // second attach is a no-op
		if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: aws.String(a)}); err != nil {
			t.Fatalf("attach %s: %v", a, err)
		}
	}
	gp, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if *gp.Policy.AttachmentCount != 1 || *gp.Policy.PolicyName != "GuardrailLockdown" {
		t.Errorf("GetPolicy = %+v", gp.Policy)
	}
	gv, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: gp.Policy.DefaultVersionId})
	if err != nil {
		t.Fatal(err)
	}
	if decode(t, gv.PolicyVersion.Document) != allowS3 || !gv.PolicyVersion.IsDefaultVersion {
		t.Errorf("GetPolicyVersion = %+v", gv.PolicyVersion)
	}

	la, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range la.AttachedPolicies {
		got = append(got, *p.PolicyName)
	}
	if want := []string{"GuardrailLockdown", "AWSLambdaBasicExecutionRole"}; !slices.Equal(got, want) { // sorted by ARN
		t.Errorf("attached = %v, want %v", got, want)
	}
	la, err = c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("app"), PathPrefix: aws.String("/guardrail/")})
	if err != nil || len(la.AttachedPolicies) != 1 {
		t.Errorf("with PathPrefix: %+v, %v", la, err)
	}

	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("inline1"), PolicyDocument: aws.String(allowS3)}); err != nil {
		t.Fatal(err)
	}
	rp, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("inline1")})
	if err != nil {
		t.Fatal(err)
	}
	if decode(t, rp.PolicyDocument) != allowS3 || *rp.RoleName != "app" || *rp.PolicyName != "inline1" {
		t.Errorf("GetRolePolicy = %+v", rp)
	}
	lp, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("app")})
	if err != nil || !slices.Equal(lp.PolicyNames, []string{"inline1"}) {
		t.Errorf("ListRolePolicies = %+v, %v", lp, err)
	}

	if _, err := c.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String("app"), PermissionsBoundary: aws.String(denyAllARN)}); err != nil {
		t.Fatal(err)
	}
	g, _ := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
	if g.Role.PermissionsBoundary == nil || *g.Role.PermissionsBoundary.PermissionsBoundaryArn != denyAllARN ||
		g.Role.PermissionsBoundary.PermissionsBoundaryType != types.PermissionsBoundaryAttachmentTypePolicy {
		t.Errorf("boundary = %+v", g.Role.PermissionsBoundary)
	}
	st, _ := srv.Role("app")
	if st.PermissionsBoundary != denyAllARN || st.InlinePolicies["inline1"] != allowS3 || len(st.AttachedPolicyARNs) != 2 {
		t.Errorf("state = %+v", st)
	}

	// Deleting a role with policies is refused until they are gone.
	if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("app")}); err == nil {
		t.Fatal("DeleteRole with policies succeeded")
	} else if code, status := apiCode(err); code != codeDeleteConflict || status != 409 {
		t.Errorf("DeleteRole with policies: %s %d", code, status)
	}
	if _, err := c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)}); err == nil {
		t.Fatal("DeletePolicy of an attached policy succeeded")
	}
	steps := []func() error{
		func() error {
			_, err := c.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String("app")})
			return err
		},
		func() error {
			_, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("inline1")})
			return err
		},
		func() error {
			_, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: aws.String(arn)})
			return err
		},
		func() error {
			_, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: aws.String(lambdaBasic)})
			return err
		},
		func() error {
			_, err := c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})
			return err
		},
		func() error {
			_, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("app")})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("cleanup step %d: %v", i, err)
		}
	}
	if _, ok := srv.PolicyDocument(arn); ok {
		t.Error("policy still exists")
	}
}

func TestCreateServiceLinkedRole(t *testing.T) {
	srv, c := newTestServer(t)
	ctx := context.Background()
	out, err := c.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("elasticfilesystem.amazonaws.com")})
	if err != nil {
		t.Fatal(err)
	}
	if *out.Role.RoleName != "AWSServiceRoleForAmazonElasticFileSystem" ||
		*out.Role.Path != "/aws-service-role/elasticfilesystem.amazonaws.com/" {
		t.Errorf("SLR = %s at %s", *out.Role.RoleName, *out.Role.Path)
	}
	if !strings.Contains(decode(t, out.Role.AssumeRolePolicyDocument), `"Service":["elasticfilesystem.amazonaws.com"]`) {
		t.Errorf("SLR trust = %s", decode(t, out.Role.AssumeRolePolicyDocument))
	}
	st, _ := srv.Role("AWSServiceRoleForAmazonElasticFileSystem")
	if len(st.AttachedPolicyARNs) != 1 {
		t.Errorf("SLR attached = %v", st.AttachedPolicyARNs)
	}
	sfx, err := c.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("my-svc.amazonaws.com"), CustomSuffix: aws.String("x")})
	if err != nil || *sfx.Role.RoleName != "AWSServiceRoleForMySvc_x" {
		t.Errorf("suffixed SLR: %v %v", sfx, err)
	}
	_, err = c.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("elasticfilesystem.amazonaws.com")})
	if code, _ := apiCode(err); code != codeInvalidInput {
		t.Errorf("duplicate SLR: %v", err)
	}
}

func TestActionsListIsComplete(t *testing.T) {
	want := []string{"AttachRolePolicy", "CreatePolicy", "CreatePolicyVersion", "CreateRole", "CreateServiceLinkedRole", "DeletePolicy",
		"DeletePolicyVersion", "DeleteRole", "DeleteRolePermissionsBoundary", "DeleteRolePolicy", "DetachRolePolicy",
		"GetAccountAuthorizationDetails", "GetPolicy", "GetPolicyVersion", "GetRole", "GetRolePolicy",
		"ListAttachedRolePolicies", "ListPolicyVersions", "ListRolePolicies", "ListRoleTags", "ListRoles", "PutRolePermissionsBoundary",
		"PutRolePolicy", "SetDefaultPolicyVersion", "TagRole", "UntagRole", "UpdateAssumeRolePolicy", "UpdateRole"}
	if got := implementedActions(); !slices.Equal(got, want) {
		t.Errorf("implementedActions() = %v\nwant %v", got, want)
	}
}
