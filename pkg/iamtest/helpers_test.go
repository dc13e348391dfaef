package iamtest

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
)

const (
	lambdaTrust  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	foreignTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`
	allowS3      = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	adminARN     = "arn:aws:iam::aws:policy/AdministratorAccess"
	readOnlyARN  = "arn:aws:iam::aws:policy/ReadOnlyAccess"
	denyAllARN   = "arn:aws:iam::aws:policy/AWSDenyAll"
	lambdaBasic  = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
)

// newTestServer starts a server closed at the end of the test, and a real
// SDK client for it.
func newTestServer(t testing.TB, opts ...Option) (*Server, *iam.Client) {
	t.Helper()
	srv := NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv, srv.Client()
}

func mustCreateRole(t testing.TB, c *iam.Client, name, doc string) *iam.CreateRoleOutput {
	t.Helper()
	out, err := c.CreateRole(context.Background(), &iam.CreateRoleInput{
		RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(doc),
	})
	if err != nil {
		t.Fatalf("CreateRole %s: %v", name, err)
	}
	return out
}

// decode URL-decodes a document as a client must.
func decode(t testing.TB, s *string) string {
	t.Helper()
	if s == nil {
		t.Fatal("document is nil")
	}
	d, err := url.PathUnescape(*s)
	if err != nil {
		t.Fatalf("decode %q: %v", *s, err)
	}
	return d
}

// apiCode returns the IAM error code of err and its HTTP status.
func apiCode(err error) (string, int) {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return "", 0
	}
	status := 0
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return ae.ErrorCode(), status
}
