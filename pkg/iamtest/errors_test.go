package iamtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// TestErrorCodes drives every error the stand-in answers with through the
// real SDK and checks code, HTTP status, the SDK's typed error and the
// message.
func TestErrorCodes(t *testing.T) {
	srv, c := newTestServer(t, WithManagedPoliciesPerRole(2), WithTrustPolicySizeQuota(300))
	ctx := context.Background()
	mustCreateRole(t, c, "app", lambdaTrust)
	mustCreateRole(t, c, "full", lambdaTrust)
	for _, a := range []string{adminARN, readOnlyARN} {
		if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("full"), PolicyArn: aws.String(a)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.SeedRole(Role{Name: "AWSServiceRoleForECS", Path: "/aws-service-role/ecs.amazonaws.com/", TrustPolicy: lambdaTrust}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SeedRole(Role{Name: "AWSReservedSSO_Admin_0123", Path: "/aws-reserved/sso.amazonaws.com/", TrustPolicy: lambdaTrust}); err != nil {
		t.Fatal(err)
	}
	bigTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":["` +
		strings.Repeat("111122223333", 20) + `"]}}}]}`

	tests := []struct {
		name      string
		call      func() error
		code      string
		status    int
		typed     any
		msgSubstr string
	}{
		{"GetRole missing", func() error {
			_, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("nope")})
			return err
		}, codeNoSuchEntity, 404, &types.NoSuchEntityException{}, "The role with name nope cannot be found."},
		{"CreateRole duplicate (case-insensitive)", func() error {
			_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("APP"), AssumeRolePolicyDocument: aws.String(lambdaTrust)})
			return err
		}, codeEntityAlreadyExists, 409, &types.EntityAlreadyExistsException{}, "Role with name APP already exists."},
		{"CreatePolicy duplicate", func() error {
			for range 2 {
				if _, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("dup"), PolicyDocument: aws.String(allowS3)}); err != nil {
					return err
				}
			}
			return nil
		}, codeEntityAlreadyExists, 409, &types.EntityAlreadyExistsException{}, "A policy called dup already exists"},
		{"trust not JSON", updateTrust(c, "app", `{"Version":"2012-10-17",`), codeMalformedPolicyDocument, 400, &types.MalformedPolicyDocumentException{}, "Syntax errors in policy."},
		{"trust no Statement", updateTrust(c, "app", `{"Version":"2012-10-17"}`), codeMalformedPolicyDocument, 400, &types.MalformedPolicyDocumentException{}, "Syntax errors"},
		{"trust invalid Effect", updateTrust(c, "app", strings.Replace(lambdaTrust, "Allow", "Permit", 1)), codeMalformedPolicyDocument, 400, &types.MalformedPolicyDocumentException{}, "Invalid effect: Permit"},
		{"trust principal of invalid form", updateTrust(c, "app", strings.Replace(foreignTrust, "arn:aws:iam::999988887777:root", "arn:aws:iam::999988887777:role/*", 1)), codeMalformedPolicyDocument, 400, &types.MalformedPolicyDocumentException{}, `Invalid principal in policy: "AWS":"arn:aws:iam::999988887777:role/*"`},
		{"trust nonexistent own role", updateTrust(c, "app", strings.Replace(foreignTrust, "999988887777:root", "111122223333:role/ghost", 1)), codeMalformedPolicyDocument, 400, &types.MalformedPolicyDocumentException{}, `Invalid principal in policy: "AWS":"arn:aws:iam::111122223333:role/ghost"`},
		{"trust with Resource", updateTrust(c, "app", strings.Replace(lambdaTrust, `"Action"`, `"Resource":"*","Action"`, 1)), codeMalformedPolicyDocument, 400, &types.MalformedPolicyDocumentException{}, "Has prohibited field Resource"},
		{"trust over size quota", updateTrust(c, "app", bigTrust), codeLimitExceeded, 409, &types.LimitExceededException{}, "Cannot exceed quota for ACLSizePerRole: 300"},
		{"identity policy with principal", func() error {
			_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("p"), PolicyDocument: aws.String(foreignTrust)})
			return err
		}, codeMalformedPolicyDocument, 400, &types.MalformedPolicyDocumentException{}, "Policy document should not specify a principal."},
		{"managed policy too large", func() error {
			doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":["` + strings.Repeat("a", 6200) + `"]}]}`
			_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("big"), PolicyDocument: aws.String(doc)})
			return err
		}, codeLimitExceeded, 409, &types.LimitExceededException{}, "Cannot exceed quota for PolicySize: 6144"},
		{"attach beyond quota", func() error {
			_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("full"), PolicyArn: aws.String(denyAllARN)})
			return err
		}, codeLimitExceeded, 409, &types.LimitExceededException{}, "Cannot exceed quota for PoliciesPerRole: 2"},
		{"attach unknown policy", func() error {
			_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: aws.String("arn:aws:iam::aws:policy/NoSuchPolicy")})
			return err
		}, codeNoSuchEntity, 404, &types.NoSuchEntityException{}, "does not exist or is not attachable"},
		{"attach service role policy", func() error {
			_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: aws.String("arn:aws:iam::aws:policy/aws-service-role/AmazonElasticFileSystemServiceRolePolicy")})
			return err
		}, codePolicyNotAttachable, 400, &types.PolicyNotAttachableException{}, "Service Role Policy"},
		{"detach not attached", func() error {
			_, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: aws.String(adminARN)})
			return err
		}, codeNoSuchEntity, 404, &types.NoSuchEntityException{}, "was not found"},
		{"get missing inline policy", func() error {
			_, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("none")})
			return err
		}, codeNoSuchEntity, 404, &types.NoSuchEntityException{}, "The role policy with name none cannot be found."},
		{"get missing policy version", func() error {
			_, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(adminARN), VersionId: aws.String("v2")})
			return err
		}, codeNoSuchEntity, 404, &types.NoSuchEntityException{}, "version v2"},
		{"service-linked role trust update", updateTrust(c, "AWSServiceRoleForECS", lambdaTrust), codeUnmodifiableEntity, 400, &types.UnmodifiableEntityException{}, "only modifiable by AWS"},
		{"service-linked role attach", func() error {
			_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("AWSServiceRoleForECS"), PolicyArn: aws.String(denyAllARN)})
			return err
		}, codeUnmodifiableEntity, 400, &types.UnmodifiableEntityException{}, "AWSServiceRoleForECS"},
		{"service-linked role delete", func() error {
			_, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("AWSServiceRoleForECS")})
			return err
		}, codeUnmodifiableEntity, 400, &types.UnmodifiableEntityException{}, "protected role"},
		{"reserved SSO role inline policy", func() error {
			_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("AWSReservedSSO_Admin_0123"), PolicyName: aws.String("p"), PolicyDocument: aws.String(allowS3)})
			return err
		}, codeUnmodifiableEntity, 400, &types.UnmodifiableEntityException{}, "AWSReservedSSO_Admin_0123"},
		{"MaxItems above 1000", func() error {
			_, err := c.ListRoles(ctx, &iam.ListRolesInput{MaxItems: aws.Int32(1001)})
			return err
		}, codeValidationError, 400, nil, "less than or equal to 1000"},
		{"MaxSessionDuration out of range", func() error {
			_, err := c.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String("app"), MaxSessionDuration: aws.Int32(60)})
			return err
		}, codeValidationError, 400, nil, "between 3600 and 43200"},
		{"delete role with policies", func() error {
			_, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("full")})
			return err
		}, codeDeleteConflict, 409, &types.DeleteConflictException{}, "must detach all policies first"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil {
				t.Fatalf("succeeded, want %s", tc.code)
			}
			code, status := apiCode(err)
			if code != tc.code || status != tc.status {
				t.Errorf("got %s %d, want %s %d (%v)", code, status, tc.code, tc.status, err)
			}
			if tc.typed != nil && !errorsAsType(err, tc.typed) {
				t.Errorf("error %T is not decoded as %T", err, tc.typed)
			}
			if !strings.Contains(err.Error(), tc.msgSubstr) {
				t.Errorf("message %q does not contain %q", err, tc.msgSubstr)
			}
		})
	}
	// No failed call may have changed state.
	st, _ := srv.Role("app")
	if st.TrustPolicy != lambdaTrust || len(st.AttachedPolicyARNs) != 0 || len(st.InlinePolicies) != 0 || st.MaxSessionDuration != 3600 {
		t.Errorf("failed calls changed the role: %+v", st)
	}
}

func updateTrust(c *iam.Client, role, doc string) func() error {
	return func() error {
		_, err := c.UpdateAssumeRolePolicy(context.Background(), &iam.UpdateAssumeRolePolicyInput{
			RoleName: aws.String(role), PolicyDocument: aws.String(doc),
		})
		return err
	}
}

// errorsAsType reports whether err wraps an error of target's type.
func errorsAsType(err error, target any) bool {
	switch target.(type) {
	case *types.NoSuchEntityException:
		var e *types.NoSuchEntityException
		return errors.As(err, &e)
	case *types.EntityAlreadyExistsException:
		var e *types.EntityAlreadyExistsException
		return errors.As(err, &e)
	case *types.MalformedPolicyDocumentException:
		var e *types.MalformedPolicyDocumentException
		return errors.As(err, &e)
	case *types.LimitExceededException:
		var e *types.LimitExceededException
		return errors.As(err, &e)
	case *types.UnmodifiableEntityException:
		var e *types.UnmodifiableEntityException
		return errors.As(err, &e)
	case *types.DeleteConflictException:
		var e *types.DeleteConflictException
		return errors.As(err, &e)
	case *types.PolicyNotAttachableException:
		var e *types.PolicyNotAttachableException
		return errors.As(err, &e)
	}
	panic(fmt.Sprintf("errorsAsType: unhandled %T", target))
}
