package iamtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

const (
	mgmtAccount = "100000000001"
	acctA       = "200000000002"
	acctB       = "300000000003"
)

// assume returns an aws.Config whose credentials are a session of roleARN
// assumed with cfg's credentials.
func assume(t *testing.T, cfg aws.Config, roleARN string) (aws.Config, error) {
	t.Helper()
	out, err := sts.NewFromConfig(cfg).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("test-session")})
	if err != nil {
		return aws.Config{}, err
	}
	c := cfg.Copy()
	cr := out.Credentials
	c.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), aws.ToString(cr.SessionToken))
	return c, nil
}

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// An organization behind one URL: the management account's credentials
// reach a member account only through OrganizationAccountAccessRole, and
// the issued credentials act in that account alone.
func TestOrganizationAccountsAreSeparate(t *testing.T) {
	ctx := context.Background()
	srv := NewServer(WithAccounts(mgmtAccount, acctA, acctB))
	defer srv.Close()
	if srv.Account() != mgmtAccount {
		t.Fatalf("Account() = %s, want the management account", srv.Account())
	}
	who, err := sts.NewFromConfig(srv.Config()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Account) != mgmtAccount || aws.ToString(who.Arn) != "arn:aws:iam::"+mgmtAccount+":root" {
		t.Fatalf("GetCallerIdentity = %+v, %v; want the management account's root", who, err)
	}
	cfgA, err := assume(t, srv.Config(), "arn:aws:iam::"+acctA+":role/"+organizationAccessRole)
	if err != nil {
		t.Fatal(err)
	}
	who, err = sts.NewFromConfig(cfgA).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Account) != acctA ||
		aws.ToString(who.Arn) != "arn:aws:sts::"+acctA+":assumed-role/"+organizationAccessRole+"/test-session" {
		t.Fatalf("GetCallerIdentity in A = %+v, %v", who, err)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	created, err := iam.NewFromConfig(cfgA).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("only-in-a"), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(created.Role.Arn); got != "arn:aws:iam::"+acctA+":role/only-in-a" {
		t.Errorf("ARN %s, want account A's", got)
	}
	if _, ok := srv.Role("only-in-a"); ok {
		t.Error("a role created in A shows in the management account")
	}
	cfgB, err := assume(t, srv.Config(), "arn:aws:iam::"+acctB+":role/"+organizationAccessRole)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iam.NewFromConfig(cfgB).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("only-in-a")}); errCode(err) != "NoSuchEntity" {
		t.Errorf("GetRole in B = %v, want NoSuchEntity", err)
	}
	var inA int
	for _, c := range srv.CallLog() {
		if c.Action == "CreateRole" && c.Account == acctA {
			inA++
		}
	}
	if inA != 1 || srv.Calls("AssumeRole") != 2 {
		t.Errorf("call log: %d CreateRole in A, %d AssumeRole; want 1 and 2", inA, srv.Calls("AssumeRole"))
	}
}

// Credentials the server did not issue are refused as STS and IAM refuse
// them; in single-account mode long-term keys keep acting in the account.
func TestUnknownCredentialsRefused(t *testing.T) {
	ctx := context.Background()
	org := NewServer(WithAccounts(mgmtAccount, acctA))
	defer org.Close()
	single := NewServer()
	defer single.Close()
	cfgA, err := assume(t, org.Config(), "arn:aws:iam::"+acctA+":role/"+organizationAccessRole)
	if err != nil {
		t.Fatal(err)
	}
	real, _ := cfgA.Credentials.Retrieve(ctx)
	tests := []struct {
		name       string
		srv        *Server
		key, token string
		want       string
	}{
		{"unissued temporary key", org, "ASIAAAAAAAAAAAAAAAAA", "token", "InvalidClientTokenId"},
		{"issued key, wrong token", org, real.AccessKeyID, "forged", "InvalidClientTokenId"},
		{"unknown long-term key in an organization", org, "AKIAUNKNOWN000000000", "", "InvalidClientTokenId"},
		{"issued key and token", org, real.AccessKeyID, real.SessionToken, ""},
		{"any long-term key in single-account mode", single, "AKIAANYOTHER00000000", "", ""},
		{"unissued temporary key in single-account mode", single, "ASIAAAAAAAAAAAAAAAAA", "token", "InvalidClientTokenId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.srv.Config()
			cfg.Credentials = credentials.NewStaticCredentialsProvider(tc.key, "secret", tc.token)
			_, err := iam.NewFromConfig(cfg).ListRoles(ctx, &iam.ListRolesInput{})
			if errCode(err) != tc.want || (tc.want == "" && err != nil) {
				t.Errorf("ListRoles = %v, want %q", err, tc.want)
			}
			_, err = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if errCode(err) != tc.want || (tc.want == "" && err != nil) {
				t.Errorf("GetCallerIdentity = %v, want %q", err, tc.want)
			}
		})
	}
}

// AssumeRole admits only the principals a role's trust policy admits.
func TestAssumeRoleEnforcesTrust(t *testing.T) {
	ctx := context.Background()
	srv := NewServer(WithAccounts(mgmtAccount, acctA))
	defer srv.Close()
	hub := "arn:aws:iam::" + mgmtAccount + ":role/hub"
	if _, err := srv.SeedRole(Role{Name: "hub", TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SeedRole(Role{Name: "other", TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + mgmtAccount + `:root"},"Action":"sts:AssumeRole"}]}`}); err != nil {
		t.Fatal(err)
	}
	hubCreds, err := srv.ServiceCredentials("lambda.amazonaws.com", hub, "hub-function")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.ServiceCredentials("ec2.amazonaws.com", hub, "x"); err == nil {
		t.Error("ServiceCredentials for a service the trust policy does not admit succeeded")
	}
	hubCfg := srv.Config()
	hubCfg.Credentials = credentials.StaticCredentialsProvider{Value: hubCreds}
	otherCfg, err := assume(t, srv.Config(), "arn:aws:iam::"+mgmtAccount+":role/other")
	if err != nil {
		t.Fatal(err)
	}
	adminA, err := assume(t, srv.Config(), "arn:aws:iam::"+acctA+":role/"+organizationAccessRole)
	if err != nil {
		t.Fatal(err)
	}
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":` + s + `}` }
	allowHub := `{"Effect":"Allow","Principal":{"AWS":"` + hub + `"},"Action":"sts:AssumeRole"}`
	tests := []struct {
		name     string
		trust    string
		hub      bool // the hub role's session may assume it
		other    bool // another role of the same account
		mgmtRoot bool
	}{
		{"exact role ARN", stmt(`[` + allowHub + `]`), true, false, false},
		{"account root", stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + mgmtAccount + `:root"},"Action":"sts:AssumeRole"}`), true, true, true},
		{"bare account ID in a list", stmt(`[{"Effect":"Allow","Principal":{"AWS":["` + acctB + `","` + mgmtAccount + `"]},"Action":["sts:TagSession","sts:AssumeRole"]}]`), true, true, true},
		{"wildcard", stmt(`[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]`), true, true, true},
		{"another account only", stmt(`[{"Effect":"Allow","Principal":{"AWS":"` + acctB + `"},"Action":"sts:AssumeRole"}]`), false, false, false},
		{"service only", stmt(`[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]`), false, false, false},
		{"conditional allow admits nobody", stmt(`[{"Effect":"Allow","Principal":{"AWS":"` + hub + `"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x"}}}]`), false, false, false},
		{"other action", stmt(`[{"Effect":"Allow","Principal":{"AWS":"` + hub + `"},"Action":"sts:TagSession"}]`), false, false, false},
		{"deny beats allow", stmt(`[` + allowHub + `,{"Effect":"Deny","Principal":{"AWS":"` + hub + `"},"Action":"sts:AssumeRole"}]`), false, false, false},
		{"conditional deny refuses", stmt(`[` + allowHub + `,{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]`), false, false, false},
		{"deny of another principal", stmt(`[` + allowHub + `,{"Effect":"Deny","Principal":{"AWS":"` + acctB + `"},"Action":"sts:AssumeRole"}]`), true, false, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("target-%d", i)
			if _, err := iam.NewFromConfig(adminA).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(tc.trust)}); err != nil {
				t.Fatal(err)
			}
			target := "arn:aws:iam::" + acctA + ":role/" + name
			for _, c := range []struct {
				who  string
				cfg  aws.Config
				want bool
			}{{"hub", hubCfg, tc.hub}, {"other role", otherCfg, tc.other}, {"management root", srv.Config(), tc.mgmtRoot}} {
				_, err := assume(t, c.cfg, target)
				if got := err == nil; got != c.want {
					t.Errorf("%s: AssumeRole err = %v, want admitted %t", c.who, err, c.want)
				}
				if err != nil && errCode(err) != "AccessDenied" {
					t.Errorf("%s: error code %q, want AccessDenied", c.who, errCode(err))
				}
			}
		})
	}
	if _, err := assume(t, srv.Config(), "arn:aws:iam::"+acctA+":role/missing"); errCode(err) != "AccessDenied" {
		t.Errorf("AssumeRole of a missing role = %v, want AccessDenied", err)
	}
	if _, err := assume(t, srv.Config(), "arn:aws:iam::999999999999:role/"+organizationAccessRole); errCode(err) != "AccessDenied" {
		t.Errorf("AssumeRole into an account outside the organization = %v, want AccessDenied", err)
	}
	_, err = sts.NewFromConfig(adminA).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acctA + ":role/" + organizationAccessRole),
		RoleSessionName: aws.String("bad name")})
	if errCode(err) != "ValidationError" {
		t.Errorf("a session name with a space = %v, want ValidationError", err)
	}
	_, err = sts.NewFromConfig(otherCfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acctA + ":role/" + organizationAccessRole),
		RoleSessionName: aws.String("chained"), DurationSeconds: aws.Int32(7200)})
	if errCode(err) != "ValidationError" {
		t.Errorf("a chained session of two hours = %v, want ValidationError", err)
	}
}

// Organizations answers DescribeOrganization to any member and
// ListAccounts/DescribeAccount to the management account only.
func TestOrganizationsAPI(t *testing.T) {
	ctx := context.Background()
	ids := []string{mgmtAccount}
	for i := range 24 {
		ids = append(ids, fmt.Sprintf("4000000000%02d", i))
	}
	srv := NewServer(WithAccounts(ids...))
	defer srv.Close()
	org := organizations.NewFromConfig(srv.Config())
	d, err := org.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil || !strings.HasPrefix(aws.ToString(d.Organization.Id), "o-") || len(aws.ToString(d.Organization.Id)) != 12 ||
		aws.ToString(d.Organization.MasterAccountId) != mgmtAccount {
		t.Fatalf("DescribeOrganization = %+v, %v", d, err)
	}
	var listed []string
	p := organizations.NewListAccountsPaginator(org, &organizations.ListAccountsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Accounts {
			if a.Status != orgtypes.AccountStatusActive {
				t.Errorf("account %s status %s", aws.ToString(a.Id), a.Status)
			}
			listed = append(listed, aws.ToString(a.Id))
		}
	}
	if strings.Join(listed, ",") != strings.Join(ids, ",") {
		t.Errorf("ListAccounts = %v, want %v", listed, ids)
	}
	if srv.Calls("ListAccounts") != 2 {
		t.Errorf("%d ListAccounts pages for 25 accounts, want 2 (at most 20 per page)", srv.Calls("ListAccounts"))
	}
	if _, err := org.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String("999999999999")}); errCode(err) != "AccountNotFoundException" {
		t.Errorf("DescribeAccount outside = %v, want AccountNotFoundException", err)
	}
	if a, err := org.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(ids[3])}); err != nil || aws.ToString(a.Account.Id) != ids[3] {
		t.Errorf("DescribeAccount = %+v, %v", a, err)
	}
	member, err := assume(t, srv.Config(), "arn:aws:iam::"+ids[1]+":role/"+organizationAccessRole)
	if err != nil {
		t.Fatal(err)
	}
	morg := organizations.NewFromConfig(member)
	if _, err := morg.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{}); err != nil {
		t.Errorf("DescribeOrganization from a member: %v", err)
	}
	if _, err := morg.ListAccounts(ctx, &organizations.ListAccountsInput{}); errCode(err) != "AccessDeniedException" {
		t.Errorf("ListAccounts from a member = %v, want AccessDeniedException", err)
	}
	single := NewServer()
	defer single.Close()
	if _, err := organizations.NewFromConfig(single.Config()).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{}); errCode(err) != "AWSOrganizationsNotInUseException" {
		t.Errorf("DescribeOrganization without an organization = %v", err)
	}
}
