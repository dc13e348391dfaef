package iamtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

const denyAll = `{"Version":"2012-10-17","Statement":[{"Sid":"D","Effect":"Deny","Action":"*","Resource":"*"}]}`

// The policy calls with the real SDK: creation, paging, attachment and the
// errors Organizations answers with.
func TestOrganizationPolicies(t *testing.T) {
	ctx := context.Background()
	srv := NewServer(WithAccounts(mgmtAccount, acctA))
	defer srv.Close()
	org := organizations.NewFromConfig(srv.Config())
	ou := srv.AddOrganizationalUnit("Workloads")
	root := srv.RootID()
	if !strings.HasPrefix(ou, "ou-"+root[2:]+"-") || len(root) != 6 {
		t.Fatalf("root %q, OU %q", root, ou)
	}

	create := func(name, typ, content string) (*organizations.CreatePolicyOutput, error) {
		return org.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String(name), Type: orgtypes.PolicyType(typ),
			Content: aws.String(content), Description: aws.String("test")})
	}
	var ids []string
	for i := range 22 {
		out, err := create(fmt.Sprintf("scp-%02d", i), policyTypeSCP, denyAll)
		if err != nil {
			t.Fatal(err)
		}
		s := out.Policy.PolicySummary
		if !policyIDRe.MatchString(aws.ToString(s.Id)) || aws.ToString(out.Policy.Content) != denyAll ||
			aws.ToString(s.Arn) != "arn:aws:organizations::"+mgmtAccount+":policy/"+srv.orgID()+"/service_control_policy/"+aws.ToString(s.Id) {
			t.Fatalf("CreatePolicy = %+v", s)
		}
		ids = append(ids, aws.ToString(s.Id))
	}
	if !slices.Equal(ids, slices.Compact(slices.Clone(ids))) {
		t.Fatalf("policy IDs repeat: %v", ids)
	}

	// 22 SCPs and FullAWSAccess: two pages of at most 20.
	var names []string
	p := organizations.NewListPoliciesPaginator(org, &organizations.ListPoliciesInput{Filter: orgtypes.PolicyTypeServiceControlPolicy})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Policies {
			names = append(names, aws.ToString(s.Name))
		}
	}
	if len(names) != 23 || names[0] != "FullAWSAccess" || srv.Calls("ListPolicies") != 2 {
		t.Errorf("ListPolicies: %d names (%v), %d calls", len(names), names, srv.Calls("ListPolicies"))
	}
	rcps, err := org.ListPolicies(ctx, &organizations.ListPoliciesInput{Filter: orgtypes.PolicyTypeResourceControlPolicy})
	if err != nil || len(rcps.Policies) != 1 || aws.ToString(rcps.Policies[0].Id) != "p-RCPFullAWSAccess" || !rcps.Policies[0].AwsManaged {
		t.Errorf("ListPolicies RCP = %+v, %v", rcps, err)
	}

	// Attachments, with paging of the targets.
	for _, target := range []string{ou, root, acctA} {
		if _, err := org.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: aws.String(ids[0]), TargetId: aws.String(target)}); err != nil {
			t.Fatalf("AttachPolicy %s: %v", target, err)
		}
	}
	var targets []string
	tp := organizations.NewListTargetsForPolicyPaginator(org, &organizations.ListTargetsForPolicyInput{PolicyId: aws.String(ids[0]), MaxResults: aws.Int32(2)})
	for tp.HasMorePages() {
		page, err := tp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range page.Targets {
			targets = append(targets, aws.ToString(tg.TargetId)+"/"+string(tg.Type))
		}
	}
	if want := []string{ou + "/ORGANIZATIONAL_UNIT", root + "/ROOT", acctA + "/ACCOUNT"}; !slices.Equal(targets, want) {
		t.Errorf("ListTargetsForPolicy = %v, want %v", targets, want)
	}
	if _, err := org.DetachPolicy(ctx, &organizations.DetachPolicyInput{PolicyId: aws.String(ids[0]), TargetId: aws.String(root)}); err != nil {
		t.Fatal(err)
	}
	upd, err := org.UpdatePolicy(ctx, &organizations.UpdatePolicyInput{PolicyId: aws.String(ids[0]),
		Content: aws.String(strings.Replace(denyAll, `"D"`, `"E"`, 1))})
	if err != nil || !strings.Contains(aws.ToString(upd.Policy.Content), `"E"`) || aws.ToString(upd.Policy.PolicySummary.Name) != "scp-00" {
		t.Errorf("UpdatePolicy = %+v, %v", upd, err)
	}
	d, err := org.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: aws.String(ids[0])})
	if err != nil || aws.ToString(d.Policy.Content) != aws.ToString(upd.Policy.Content) {
		t.Errorf("DescribePolicy = %+v, %v", d, err)
	}

	member, err := assume(t, srv.Config(), "arn:aws:iam::"+acctA+":role/"+organizationAccessRole)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"RCP with an Allow", func() error {
			_, err := create("rcp", policyTypeRCP, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`)
			return err
		}, "MalformedPolicyDocumentException"},
		{"not JSON", func() error { _, err := create("bad", policyTypeSCP, "{"); return err }, "MalformedPolicyDocumentException"},
		{"too large", func() error {
			_, err := create("big", policyTypeSCP, denyAll[:len(denyAll)-1]+strings.Repeat(" ", maxPolicyContent)+"}")
			return err
		}, "ConstraintViolationException"},
		{"duplicate name", func() error { _, err := create("scp-01", policyTypeSCP, denyAll); return err }, "DuplicatePolicyException"},
		{"type not enabled", func() error { _, err := create("tag", "TAG_POLICY", `{"tags":{}}`); return err }, "PolicyTypeNotEnabledException"},
		{"unknown policy", func() error {
			_, err := org.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: aws.String("p-0000000000")})
			return err
		}, "PolicyNotFoundException"},
		{"bad policy ID", func() error {
			_, err := org.ListTargetsForPolicy(ctx, &organizations.ListTargetsForPolicyInput{PolicyId: aws.String("policy-1")})
			return err
		}, "InvalidInputException"},
		{"attached twice", func() error {
			_, err := org.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: aws.String(ids[0]), TargetId: aws.String(ou)})
			return err
		}, "DuplicatePolicyAttachmentException"},
		{"detached twice", func() error {
			_, err := org.DetachPolicy(ctx, &organizations.DetachPolicyInput{PolicyId: aws.String(ids[0]), TargetId: aws.String(root)})
			return err
		}, "PolicyNotAttachedException"},
		{"unknown OU", func() error {
			_, err := org.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: aws.String(ids[0]), TargetId: aws.String("ou-zzzz-99999999")})
			return err
		}, "TargetNotFoundException"},
		{"AWS managed policy", func() error {
			_, err := org.UpdatePolicy(ctx, &organizations.UpdatePolicyInput{PolicyId: aws.String("p-FullAWSAccess"), Content: aws.String(denyAll)})
			return err
		}, "PolicyChangesNotAllowedException"},
		{"MaxResults over 20", func() error {
			_, err := org.ListPolicies(ctx, &organizations.ListPoliciesInput{Filter: orgtypes.PolicyTypeServiceControlPolicy, MaxResults: aws.Int32(21)})
			return err
		}, "InvalidInputException"},
		{"a member account", func() error {
			_, err := organizations.NewFromConfig(member).ListPolicies(ctx, &organizations.ListPoliciesInput{Filter: orgtypes.PolicyTypeServiceControlPolicy})
			return err
		}, "AccessDeniedException"},
	} {
		if err := tc.call(); errCode(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
}
