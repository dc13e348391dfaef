package iamtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// TestStandardEndpointVariable reaches the server the way product code
// does: the SDK's default configuration with AWS_ENDPOINT_URL_IAM and dummy
// credentials from the environment, no special client code.
func TestStandardEndpointVariable(t *testing.T) {
	for _, env := range []string{"AWS_ENDPOINT_URL_IAM", "AWS_ENDPOINT_URL"} {
		t.Run(env, func(t *testing.T) {
			srv, _ := newTestServer(t, WithAccount("444455556666"))
			t.Setenv(env, srv.URL)
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "dummy")
			t.Setenv("AWS_REGION", "us-east-1")
			t.Setenv("AWS_CONFIG_FILE", "/dev/null")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
			cfg, err := config.LoadDefaultConfig(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			out, err := iam.NewFromConfig(cfg).CreateRole(context.Background(), &iam.CreateRoleInput{
				RoleName: aws.String("viaenv"), AssumeRolePolicyDocument: aws.String(lambdaTrust),
			})
			if err != nil {
				t.Fatal(err)
			}
			if *out.Role.Arn != "arn:aws:iam::444455556666:role/viaenv" || srv.Calls("CreateRole") != 1 {
				t.Errorf("ARN %s, calls %d", *out.Role.Arn, srv.Calls("CreateRole"))
			}
		})
	}
}

func TestCallAccounting(t *testing.T) {
	srv, c := newTestServer(t)
	ctx := context.Background()
	mustCreateRole(t, c, "app", lambdaTrust)
	c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
	c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("missing")})
	c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: aws.String(denyAllARN)})
	if srv.Calls("GetRole") != 2 || srv.Calls("CreateRole") != 1 || srv.WriteCalls() != 2 || srv.Calls("") != 4 {
		t.Errorf("GetRole %d CreateRole %d writes %d all %d", srv.Calls("GetRole"), srv.Calls("CreateRole"), srv.WriteCalls(), srv.Calls(""))
	}
	log := srv.CallLog()
	if len(log) != 4 || log[2].ErrorCode != codeNoSuchEntity || log[2].Status != 404 || log[3].PolicyARN != denyAllARN || log[3].RoleName != "app" {
		t.Errorf("call log = %+v", log)
	}
	if !IsWriteAction("AttachRolePolicy") || IsWriteAction("GetRole") {
		t.Error("IsWriteAction")
	}
	srv.ResetCalls()
	if srv.Calls("") != 0 || srv.WriteCalls() != 0 || len(srv.CallLog()) != 0 {
		t.Error("ResetCalls left counts")
	}
}

// TestProtocolErrors sends raw requests a broken client could send.
func TestProtocolErrors(t *testing.T) {
	srv, _ := newTestServer(t)
	signed := "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00"
	tests := []struct {
		name, auth, body string
		status           int
		code             string
	}{
		{"unsigned", "", "Action=GetRole&Version=2010-05-08&RoleName=x", 403, codeMissingAuthToken},
		{"wrong service", strings.Replace(signed, "/iam/", "/sts/", 1), "Action=GetRole&Version=2010-05-08&RoleName=x", 403, "IncompleteSignature"},
		{"unknown action", signed, "Action=CreateUser&Version=2010-05-08&UserName=x", 400, codeInvalidAction},
		{"wrong version", signed, "Action=GetRole&Version=2011-01-01&RoleName=x", 400, codeInvalidAction},
		{"missing parameter", signed, "Action=GetRole&Version=2010-05-08", 400, codeValidationError},
		{"bad role name", signed, "Action=GetRole&Version=2010-05-08&RoleName=" + url.QueryEscape("a b"), 400, codeValidationError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !bytes.Contains(b, []byte("<Code>"+tc.code+"</Code>")) ||
				!bytes.HasPrefix(b, []byte(`<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>`)) ||
				!bytes.Contains(b, []byte("<RequestId>")) || resp.Header.Get("X-Amzn-Requestid") == "" {
				t.Errorf("status %d body %s", resp.StatusCode, b)
			}
		})
	}
}

func TestListenerAndLogger(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 8) // the server logs from its own goroutine
	srv := NewServer(WithListener(l), WithLogger(slog.New(slog.NewTextHandler(lineWriter(lines), nil))))
	defer srv.Close()
	if srv.URL != "http://"+l.Addr().String() {
		t.Errorf("URL %s, listener %s", srv.URL, l.Addr())
	}
	srv.Client().GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String("nope")})
	var line string
	select {
	case line = <-lines:
	case <-time.After(5 * time.Second):
		t.Fatal("no log line")
	}
	for _, want := range []string{"msg=\"iam call\"", "action=GetRole", "role=nope", "status=404", "error=NoSuchEntity", "duration_ms="} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
}

// lineWriter sends each write (one log line) to a channel, dropping lines
// beyond its buffer so the server never blocks on the test.
type lineWriter chan<- string

func (w lineWriter) Write(p []byte) (int, error) {
	select {
	case w <- string(p):
	default:
	}
	return len(p), nil
}

// TestConcurrentClients hammers one server from many goroutines; run with
// -race it proves the server is safe for concurrent use.
func TestConcurrentClients(t *testing.T) {
	srv, c := newTestServer(t)
	srv.SetStaleReads("", 1)
	if err := srv.SetFaults(Faults{Action: "ListRoles", Latency: 0, ThrottleRate: 0, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const workers, perWorker = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				name := fmt.Sprintf("w%d-r%d", w, i)
				if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(lambdaTrust)}); err != nil {
					errs <- err
					continue
				}
				c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(denyAllARN)})
				c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(name), PolicyDocument: aws.String(foreignTrust)})
				c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
				c.ListRoles(ctx, &iam.ListRolesInput{MaxItems: aws.Int32(10)})
				c.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{MaxItems: aws.Int32(50)})
				srv.Role(name)
				srv.Calls("GetRole")
				srv.CallLog()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(srv.roleNames()); n != workers*perWorker {
		t.Fatalf("%d roles, want %d", n, workers*perWorker)
	}
	for _, name := range srv.roleNames() {
		st, _ := srv.Role(name)
		if st.TrustPolicy != foreignTrust || len(st.AttachedPolicyARNs) != 1 {
			t.Fatalf("role %s ended as %+v", name, st)
		}
	}
	if srv.Calls("CreateRole") != workers*perWorker {
		t.Errorf("CreateRole counted %d", srv.Calls("CreateRole"))
	}
}
