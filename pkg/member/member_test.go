package member

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyendpoints "github.com/aws/smithy-go/endpoints"

	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

func TestSessionName(t *testing.T) {
	tests := []struct{ what, want string }{
		{"", "guardrail"},
		{"0a2da5a5-c0b6-1167-b863-7f4c2e4a42c4-UpdateAssumeRolePolicy", "guardrail-0a2da5a5-c0b6-1167-b863-7f4c2e4a42c4-UpdateAssumeRoleP"},
		{"sweep-schedule/id with spaces:and:colons", "guardrail-sweep-schedule-id-with-spaces-and-colons"},
		{"ünïcode!!", "guardrail-n-code"},
		{"///", "guardrail"},
		{"a_b+c=d,e.f@g-h", "guardrail-a_b+c=d,e.f@g-h"},
	}
	for _, tc := range tests {
		got := SessionName(tc.what)
		if got != tc.want {
			t.Errorf("SessionName(%q) = %q, want %q", tc.what, got, tc.want)
		}
		if len(got) < 2 || len(got) > 64 || disallowed.MatchString(got) {
			t.Errorf("SessionName(%q) = %q breaks STS's RoleSessionName rules", tc.what, got)
		}
	}
}

// The SDK resolves STS to the regional endpoint of the configured Region,
// not the global sts.amazonaws.com.
func TestRegionalSTSEndpoint(t *testing.T) {
	ep, err := sts.NewDefaultEndpointResolverV2().ResolveEndpoint(context.Background(), sts.EndpointParameters{Region: aws.String("us-east-1")})
	if err != nil {
		t.Fatal(err)
	}
	if got := ep.URI.Host; got != "sts.us-east-1.amazonaws.com" {
		t.Errorf("STS endpoint host %s, want the regional sts.us-east-1.amazonaws.com", got)
	}
	var _ smithyendpoints.Endpoint = ep
}

// countingSTS counts AssumeRole calls and fails for one account.
type countingSTS struct {
	AssumeRoleAPI
	calls int
	names []string
}

func (c *countingSTS) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	c.calls++
	c.names = append(c.names, aws.ToString(in.RoleSessionName))
	return c.AssumeRoleAPI.AssumeRole(ctx, in, optFns...)
}

// Credentials are assumed once per account and reused; a member without
// the role is an AssumeError naming it; the session is named for what
// opened it.
func TestClients(t *testing.T) {
	srv := iamtest.NewServer(iamtest.WithAccounts("100000000001", "200000000002", "300000000003"))
	defer srv.Close()
	roleARN := func(a string) string { return "arn:aws:iam::" + a + ":role/OrganizationAccountAccessRole" }
	st := &countingSTS{AssumeRoleAPI: sts.NewFromConfig(srv.Config())}
	c := newClients(srv.Config(), st, roleARN)
	ctx := context.Background()
	for i := range 3 {
		client, err := c.IAM(ctx, "200000000002", SessionName("event-"+string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.ListRoles(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if st.calls != 1 || st.names[0] != "guardrail-event-a" {
		t.Errorf("%d AssumeRole calls named %v, want one named for the first event", st.calls, st.names)
	}
	_, err := c.IAM(ctx, "999999999999", SessionName("x"))
	var ae *AssumeError
	if !errors.As(err, &ae) || ae.Account != "999999999999" || !strings.Contains(err.Error(), "member account 999999999999") || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("err = %v, want an AssumeError naming the account and STS's reason", err)
	}
}

// Membership: the management account and outside accounts are not
// members, with a reason; an outside account is asked about once a minute
// at most; a configured list replaces the organization's.
func TestOrganizationCheck(t *testing.T) {
	srv := iamtest.NewServer(iamtest.WithAccounts("100000000001", "200000000002", "300000000003"))
	defer srv.Close()
	ctx := context.Background()
	o := NewOrganization(organizations.NewFromConfig(srv.Config()), nil)
	now := time.Now()
	o.now = func() time.Time { return now }
	for _, tc := range []struct {
		account string
		member  bool
		reason  string
	}{
		{"200000000002", true, ""},
		{"100000000001", false, "management account"},
		{"777766665555", false, "not in organization"},
		{"777766665555", false, "not in organization"},
	} {
		m, err := o.Check(ctx, tc.account)
		if err != nil || m.Member != tc.member || !strings.Contains(m.Reason, tc.reason) {
			t.Errorf("Check(%s) = %+v, %v", tc.account, m, err)
		}
	}
	if n := srv.Calls("DescribeAccount"); n != 2 {
		t.Errorf("%d DescribeAccount calls, want 2 (the outside account cached)", n)
	}
	now = now.Add(NotMemberTTL)
	if _, err := o.Check(ctx, "777766665555"); err != nil || srv.Calls("DescribeAccount") != 3 {
		t.Errorf("after the TTL: %d DescribeAccount calls, want a new check", srv.Calls("DescribeAccount"))
	}
	members, skipped, calls, err := o.Accounts(ctx)
	if err != nil || strings.Join(members, ",") != "200000000002,300000000003" || len(skipped) != 1 || calls != 1 {
		t.Errorf("Accounts = %v, %v, %d, %v", members, skipped, calls, err)
	}
	if srv.Calls("DescribeOrganization") != 1 {
		t.Errorf("%d DescribeOrganization calls, want 1 per container", srv.Calls("DescribeOrganization"))
	}
	conf := NewOrganization(organizations.NewFromConfig(srv.Config()), []string{"300000000003"})
	if m, _ := conf.Check(ctx, "200000000002"); m.Member || !strings.Contains(m.Reason, "GUARDRAIL_MEMBER_ACCOUNTS") {
		t.Errorf("configured list: %+v", m)
	}
	if members, _, _, _ := conf.Accounts(ctx); strings.Join(members, ",") != "300000000003" {
		t.Errorf("configured Accounts = %v", members)
	}
}
