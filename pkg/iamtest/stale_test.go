package iamtest

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

func TestStaleReads(t *testing.T) {
	ctx := context.Background()
	trustOf := func(t *testing.T, c *iam.Client, name string) string {
		t.Helper()
		g, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, g.Role.AssumeRolePolicyDocument)
	}

	t.Run("trust policy served stale for n reads", func(t *testing.T) {
		srv, c := newTestServer(t)
		if _, err := srv.SeedRole(Role{Name: "app", TrustPolicy: lambdaTrust}); err != nil {
			t.Fatal(err)
		}
		srv.SetStaleReads("app", 2)
		if err := updateTrust(c, "app", foreignTrust)(); err != nil {
			t.Fatal(err)
		}
		got := []string{trustOf(t, c, "app"), trustOf(t, c, "app"), trustOf(t, c, "APP"), trustOf(t, c, "app")}
		if want := []string{lambdaTrust, lambdaTrust, foreignTrust, foreignTrust}; !slices.Equal(got, want) {
			t.Errorf("reads = %q", got)
		}
		if st, _ := srv.Role("app"); st.TrustPolicy != foreignTrust {
			t.Error("Role() must show the current state")
		}
	})

	t.Run("other roles unaffected and setting off", func(t *testing.T) {
		srv, c := newTestServer(t)
		for _, n := range []string{"a", "b"} {
			if _, err := srv.SeedRole(Role{Name: n, TrustPolicy: lambdaTrust}); err != nil {
				t.Fatal(err)
			}
		}
		srv.SetStaleReads("a", 5)
		if err := updateTrust(c, "b", foreignTrust)(); err != nil {
			t.Fatal(err)
		}
		if trustOf(t, c, "b") != foreignTrust {
			t.Error("role b has no stale setting but was served stale")
		}
		if err := updateTrust(c, "a", foreignTrust)(); err != nil {
			t.Fatal(err)
		}
		srv.SetStaleReads("a", 0)
		if trustOf(t, c, "a") != foreignTrust {
			t.Error("SetStaleReads(a, 0) did not end the window")
		}
	})

	t.Run("global default, create and attachments", func(t *testing.T) {
		srv, c := newTestServer(t)
		srv.SetStaleReads("", 1)
		mustCreateRole(t, c, "new", lambdaTrust)
		// Right after CreateRole the role may not be visible yet.
		_, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("new")})
		if code, _ := apiCode(err); code != codeNoSuchEntity {
			t.Fatalf("first read after create: %v", err)
		}
		if trustOf(t, c, "new") != lambdaTrust {
			t.Fatal("second read must see the role")
		}
		if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("new"), PolicyArn: aws.String(denyAllARN)}); err != nil {
			t.Fatal(err)
		}
		la, _ := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("new")})
		la2, _ := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("new")})
		if len(la.AttachedPolicies) != 0 || len(la2.AttachedPolicies) != 1 {
			t.Errorf("attached after attach: stale %d, fresh %d", len(la.AttachedPolicies), len(la2.AttachedPolicies))
		}
		if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("new"), PolicyName: aws.String("p"), PolicyDocument: aws.String(allowS3)}); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("new"), PolicyName: aws.String("p")})
		if code, _ := apiCode(err); code != codeNoSuchEntity {
			t.Errorf("stale GetRolePolicy: %v", err)
		}
		lp, _ := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("new")})
		if len(lp.PolicyNames) != 1 {
			t.Errorf("fresh ListRolePolicies = %v", lp.PolicyNames)
		}
	})

	t.Run("deleted role still readable, and account details", func(t *testing.T) {
		srv, c := newTestServer(t)
		if _, err := srv.SeedRole(Role{Name: "gone", TrustPolicy: lambdaTrust}); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.SeedRole(Role{Name: "kept", TrustPolicy: lambdaTrust}); err != nil {
			t.Fatal(err)
		}
		srv.SetStaleReads("gone", 1)
		srv.SetStaleReads("kept", -1) // never converges
		if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("gone")}); err != nil {
			t.Fatal(err)
		}
		if err := updateTrust(c, "kept", foreignTrust)(); err != nil {
			t.Fatal(err)
		}
		names := func() []string {
			out, err := c.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{Filter: []types.EntityType{types.EntityTypeRole}})
			if err != nil {
				t.Fatal(err)
			}
			var n []string
			for _, r := range out.RoleDetailList {
				n = append(n, *r.RoleName+"="+decode(t, r.AssumeRolePolicyDocument)[60:70])
			}
			return n
		}
		first, second := names(), names()
		if len(first) != 2 || len(second) != 1 {
			t.Errorf("details: first %v, second %v", first, second)
		}
		for range 5 {
			if trustOf(t, c, "kept") != lambdaTrust {
				t.Fatal("n < 0 must keep serving the previous state")
			}
		}
		srv.SetStaleReads("kept", 0)
		if trustOf(t, c, "kept") != foreignTrust {
			t.Error("window not closed")
		}
	})
}
