package iamtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// TestCorpusTrustPolicies runs the real-world trust policies of the shared
// corpus through CreateRole on a server playing an account no document
// names, and through SeedRole. Accepted documents must come back from
// GetRole byte for byte; rejected ones must be rejected with
// MalformedPolicyDocument or LimitExceeded, never a server error.
func TestCorpusTrustPolicies(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/corpus/trust/*.json")
	if len(files) == 0 {
		t.Fatal("corpus not found in testdata/corpus")
	}
	srv, c := newTestServer(t, WithAccount("000000000001"))
	ctx := context.Background()
	accepted, rejected := 0, map[string]int{}
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc := string(raw)
		name := fmt.Sprintf("corpus-%03d", i)
		_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(doc)})
		if err != nil {
			code, status := apiCode(err)
			if code != codeMalformedPolicyDocument && code != codeLimitExceeded || status >= 500 {
				t.Errorf("%s: %v", filepath.Base(f), err)
			}
			msg := err.Error()
			rejected[msg[strings.LastIndex(msg, code):min(len(msg), strings.LastIndex(msg, code)+60)]]++
			// Existing roles may hold documents IAM no longer accepts.
			if _, serr := srv.SeedRole(Role{Name: name, TrustPolicy: doc}); serr != nil && !strings.Contains(serr.Error(), "syntax") {
				t.Logf("%s: not seedable either: %v", filepath.Base(f), serr)
			}
			continue
		}
		accepted++
		g, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if decode(t, g.Role.AssumeRolePolicyDocument) != doc {
			t.Errorf("%s: GetRole did not return the document as submitted", filepath.Base(f))
		}
	}
	t.Logf("%d of %d corpus trust policies accepted by CreateRole; rejections: %v", accepted, len(files), rejected)
	if accepted < len(files)/2 {
		t.Errorf("only %d of %d real trust policies accepted", accepted, len(files))
	}
}
