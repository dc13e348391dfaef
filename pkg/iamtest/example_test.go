package iamtest_test

import (
	"context"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

// Example shows a test building a real SDK client against the server,
// seeding a role, and checking what the code under test did.
func Example() {
	srv := iamtest.NewServer() // account 111122223333
	defer srv.Close()

	if _, err := srv.SeedRole(iamtest.Role{
		Name:        "app",
		TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`,
	}); err != nil {
		panic(err)
	}

	// Test wiring: BaseEndpoint, us-east-1 and dummy credentials. Product
	// code would instead run with AWS_ENDPOINT_URL_IAM=srv.URL.
	client := iam.NewFromConfig(srv.Config())
	ctx := context.Background()

	out, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
	if err != nil {
		panic(err)
	}
	doc, _ := url.PathUnescape(*out.Role.AssumeRolePolicyDocument) // IAM returns documents URL-encoded
	fmt.Println(*out.Role.Arn)
	fmt.Println(doc)

	_, err = client.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{
		RoleName: aws.String("app"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AWSDenyAll"),
	})
	if err != nil {
		panic(err)
	}
	st, _ := srv.Role("app")
	fmt.Println(st.AttachedPolicyARNs, srv.Calls("GetRole"), srv.WriteCalls())
	// Output:
	// arn:aws:iam::111122223333:role/app
	// {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}
	// [arn:aws:iam::aws:policy/AWSDenyAll] 1 1
}
