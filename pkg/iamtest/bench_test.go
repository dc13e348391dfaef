package iamtest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// BenchmarkGetRole measures one GetRole round trip through the real SDK
// client (serialization, signing, HTTP on loopback, XML decoding).
func BenchmarkGetRole(b *testing.B) {
	srv, c := newTestServer(b)
	if _, err := srv.SeedRole(Role{Name: "app", TrustPolicy: foreignTrust, AttachedPolicyARNs: []string{denyAllARN}}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	in := &iam.GetRoleInput{RoleName: aws.String("app")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.GetRole(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetAccountAuthorizationDetails measures one 1,000-role page.
func BenchmarkGetAccountAuthorizationDetails(b *testing.B) {
	srv, c := newTestServer(b)
	seedRoles(b, srv, 1000, "/")
	ctx := context.Background()
	in := &iam.GetAccountAuthorizationDetailsInput{MaxItems: aws.Int32(1000)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.GetAccountAuthorizationDetails(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
