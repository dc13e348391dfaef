package iamtest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// transportRetrySlack allows one extra request when a test reads large
// responses. smithy-go closes the request body as soon as response headers
// arrive (transport/http/client.go); against a loopback server that answers
// within microseconds this rarely races net/http's write loop, the
// connection is dropped while the body is read, and the SDK retries the
// call transparently (observed about once per 500 responses of ~50 KB; a
// plain net/http client never fails against the same server).
const transportRetrySlack = 1

func seedRoles(t testing.TB, srv *Server, n int, path string) []string {
	t.Helper()
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("role-%04d", i)
		if _, err := srv.SeedRole(Role{Name: names[i], Path: path, TrustPolicy: lambdaTrust}); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

func TestListRolesPagination(t *testing.T) {
	srv, c := newTestServer(t)
	ctx := context.Background()
	want := seedRoles(t, srv, 260, "/app/")
	if _, err := srv.SeedRole(Role{Name: "other", Path: "/other/", TrustPolicy: lambdaTrust}); err != nil {
		t.Fatal(err)
	}

	for _, maxItems := range []int32{0, 1, 7, 100, 1000} {
		t.Run(fmt.Sprint("MaxItems=", maxItems), func(t *testing.T) {
			srv.ResetCalls()
			in := &iam.ListRolesInput{PathPrefix: aws.String("/app/")}
			if maxItems > 0 {
				in.MaxItems = aws.Int32(maxItems)
			}
			var got []string
			p := iam.NewListRolesPaginator(c, in)
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				limit := maxItems
				if limit == 0 {
					limit = 100
				}
				if len(out.Roles) > int(limit) || (out.IsTruncated && out.Marker == nil) {
					t.Fatalf("page of %d roles, truncated %v marker %v", len(out.Roles), out.IsTruncated, out.Marker)
				}
				for _, r := range out.Roles {
					got = append(got, *r.RoleName)
					if r.Tags != nil || r.PermissionsBoundary != nil {
						t.Errorf("ListRoles returned Tags/PermissionsBoundary, which IAM omits")
					}
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %d roles, want %d", len(got), len(want))
			}
			limit := int(maxItems)
			if limit == 0 {
				limit = 100
			}
			if calls, pages := srv.Calls("ListRoles"), (260+limit-1)/limit; calls < pages || calls > pages+transportRetrySlack {
				t.Errorf("%d ListRoles calls for 260 roles at %d per page: %+v", calls, limit, srv.CallLog())
			}
		})
	}
}

func TestMarkerSurvivesChanges(t *testing.T) {
	srv, c := newTestServer(t)
	ctx := context.Background()
	seedRoles(t, srv, 10, "/")
	first, err := c.ListRoles(ctx, &iam.ListRolesInput{MaxItems: aws.Int32(5)})
	if err != nil || !first.IsTruncated {
		t.Fatal(err)
	}
	// role-0001 (already returned) goes away and role-0004b (after the
	// marker) arrives: the next page neither repeats nor skips a role.
	if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("role-0001")}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SeedRole(Role{Name: "role-0004b", TrustPolicy: lambdaTrust}); err != nil {
		t.Fatal(err)
	}
	next, err := c.ListRoles(ctx, &iam.ListRolesInput{Marker: first.Marker})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range next.Roles {
		got = append(got, *r.RoleName)
	}
	if want := []string{"role-0004b", "role-0005", "role-0006", "role-0007", "role-0008", "role-0009"}; !slices.Equal(got, want) {
		t.Errorf("second page = %v, want %v", got, want)
	}
	_, err = c.ListRoles(ctx, &iam.ListRolesInput{Marker: aws.String("not-a-marker!")})
	if code, _ := apiCode(err); code != codeInvalidInput {
		t.Errorf("bad marker: %v", err)
	}
}

func TestPerRoleListPagination(t *testing.T) {
	srv, c := newTestServer(t, WithManagedPoliciesPerRole(20))
	ctx := context.Background()
	var arns []string
	for i := range 15 {
		arn, err := srv.SeedPolicy(fmt.Sprintf("p%02d", i), allowS3)
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, arn)
	}
	inline := map[string]string{}
	tags := map[string]string{}
	for i := range 12 {
		inline[fmt.Sprintf("inline%02d", i)] = allowS3
		tags[fmt.Sprintf("k%02d", i)] = "v"
	}
	if _, err := srv.SeedRole(Role{Name: "busy", TrustPolicy: lambdaTrust, AttachedPolicyARNs: arns, InlinePolicies: inline, Tags: tags}); err != nil {
		t.Fatal(err)
	}
	var attached, names []string
	var tagKeys []string
	pa := iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("busy"), MaxItems: aws.Int32(4)})
	for pa.HasMorePages() {
		out, err := pa.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range out.AttachedPolicies {
			attached = append(attached, *p.PolicyArn)
		}
	}
	pn := iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: aws.String("busy"), MaxItems: aws.Int32(5)})
	for pn.HasMorePages() {
		out, err := pn.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, out.PolicyNames...)
	}
	var marker *string
	for {
		out, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: aws.String("busy"), MaxItems: aws.Int32(5), Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range out.Tags {
			tagKeys = append(tagKeys, *tg.Key)
		}
		if !out.IsTruncated {
			break
		}
		marker = out.Marker
	}
	if len(attached) != 15 || len(names) != 12 || len(tagKeys) != 12 || srv.Calls("ListAttachedRolePolicies") != 4 ||
		srv.Calls("ListRolePolicies") != 3 || srv.Calls("ListRoleTags") != 3 {
		t.Errorf("attached %d, inline %d, tags %d; calls %d/%d/%d", len(attached), len(names), len(tagKeys),
			srv.Calls("ListAttachedRolePolicies"), srv.Calls("ListRolePolicies"), srv.Calls("ListRoleTags"))
	}
}

func TestGetAccountAuthorizationDetailsPagination(t *testing.T) {
	srv, c := newTestServer(t)
	ctx := context.Background()
	want := seedRoles(t, srv, 2000, "/")
	lock, err := srv.SeedPolicy("GuardrailLockdown", allowS3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SeedRole(Role{Name: "zz-attached", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{lock, adminARN}}); err != nil {
		t.Fatal(err)
	}
	want = append(want, "zz-attached")
	if _, err := srv.SeedUser("alice"); err != nil {
		t.Fatal(err)
	}

	var roles []types.RoleDetail
	var policies []string
	p := iam.NewGetAccountAuthorizationDetailsPaginator(c, &iam.GetAccountAuthorizationDetailsInput{
		Filter: []types.EntityType{types.EntityTypeRole}, MaxItems: aws.Int32(1000),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.UserDetailList) != 0 || len(out.Policies) != 0 {
			t.Fatal("Filter=Role returned users or policies")
		}
		roles = append(roles, out.RoleDetailList...)
	}
	if n := srv.Calls("GetAccountAuthorizationDetails"); len(roles) != 2001 || n < 3 || n > 3+transportRetrySlack {
		t.Fatalf("%d roles in %d calls, want 2001 in 3", len(roles), n)
	}
	for i, r := range roles {
		if *r.RoleName != want[i] {
			t.Fatalf("role %d = %s, want %s", i, *r.RoleName, want[i])
		}
	}
	last := roles[len(roles)-1]
	if len(last.AttachedManagedPolicies) != 2 || decode(t, last.AssumeRolePolicyDocument) != lambdaTrust {
		t.Errorf("role detail = %+v", last)
	}

	all, err := c.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{
		Filter: []types.EntityType{types.EntityTypeUser, types.EntityTypeLocalManagedPolicy, types.EntityTypeAWSManagedPolicy},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, mp := range all.Policies {
		policies = append(policies, *mp.PolicyName)
	}
	slices.Sort(policies)
	// AWS managed policies appear only while attached.
	if len(all.UserDetailList) != 1 || !slices.Equal(policies, []string{"AdministratorAccess", "GuardrailLockdown"}) {
		t.Errorf("users %d, policies %v", len(all.UserDetailList), policies)
	}
}
