package member

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/iamguardrail/guardrail/pkg/perimeter"
)

// OrganizationsAPI is the part of AWS Organizations the hub calls;
// *organizations.Client satisfies it. DescribeOrganization may be called
// from any account of the organization; the others only from the
// management account or a delegated administrator (Organizations API
// reference), which is where the hub runs. The policy reads serve the
// sweeper's perimeter drift check (Policies).
type OrganizationsAPI interface {
	DescribeOrganization(ctx context.Context, in *organizations.DescribeOrganizationInput, optFns ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error)
	ListAccounts(ctx context.Context, in *organizations.ListAccountsInput, optFns ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error)
	DescribeAccount(ctx context.Context, in *organizations.DescribeAccountInput, optFns ...func(*organizations.Options)) (*organizations.DescribeAccountOutput, error)
	ListPolicies(ctx context.Context, in *organizations.ListPoliciesInput, optFns ...func(*organizations.Options)) (*organizations.ListPoliciesOutput, error)
	DescribePolicy(ctx context.Context, in *organizations.DescribePolicyInput, optFns ...func(*organizations.Options)) (*organizations.DescribePolicyOutput, error)
	ListTargetsForPolicy(ctx context.Context, in *organizations.ListTargetsForPolicyInput, optFns ...func(*organizations.Options)) (*organizations.ListTargetsForPolicyOutput, error)
}

// NotMemberTTL is how long an account found outside the organization is
// remembered as such: long enough that a stream of events from it costs
// one DescribeAccount a minute, short enough that an account that has just
// joined is guarded within a minute.
const NotMemberTTL = time.Minute

// Organization answers the hub's questions about its organization: its ID
// (the trusted organization by default), its management account, which
// accounts are members. The ID and management account are read once per
// container with DescribeOrganization; membership comes from the
// configured account list when there is one, else from DescribeAccount,
// cached. It is safe for concurrent use.
type Organization struct {
	api        OrganizationsAPI
	configured []string // GUARDRAIL_MEMBER_ACCOUNTS; nil: the organization's
	now        func() time.Time

	mu         sync.Mutex
	id, mgmt   string
	members    map[string]bool      // confirmed members
	notMembers map[string]time.Time // outside the organization, when last checked
}

// NewOrganization returns the organization read through api. accounts is
// the configured member list (config.Config.MemberAccounts); empty means
// every account of the organization.
func NewOrganization(api OrganizationsAPI, accounts []string) *Organization {
	return &Organization{api: api, configured: slices.Clone(accounts), now: time.Now,
		members: map[string]bool{}, notMembers: map[string]time.Time{}}
}

// describe reads the organization's ID and management account once; a
// failure is returned and tried again on the next call.
func (o *Organization) describe(ctx context.Context) (id, mgmt string, err error) {
	o.mu.Lock()
	id, mgmt = o.id, o.mgmt
	o.mu.Unlock()
	if id != "" {
		return id, mgmt, nil
	}
	out, err := o.api.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		return "", "", fmt.Errorf("organizations:DescribeOrganization: %w", err)
	}
	if out.Organization == nil || aws.ToString(out.Organization.Id) == "" {
		return "", "", errors.New("organizations:DescribeOrganization returned no organization")
	}
	o.mu.Lock()
	o.id, o.mgmt = aws.ToString(out.Organization.Id), aws.ToString(out.Organization.MasterAccountId)
	id, mgmt = o.id, o.mgmt
	o.mu.Unlock()
	return id, mgmt, nil
}

// ID returns the organization's ID (o-…).
func (o *Organization) ID(ctx context.Context) (string, error) {
	id, _, err := o.describe(ctx)
	return id, err
}

// Management returns the organization's management account, which owns
// its policies (their ARNs name it).
func (o *Organization) Management(ctx context.Context) (string, error) {
	_, mgmt, err := o.describe(ctx)
	return mgmt, err
}

// maxPolicyPage is the most ListPolicies and ListTargetsForPolicy return
// per page ("Valid Range: Minimum value of 1. Maximum value of 20.",
// Organizations API reference, ListTargetsForPolicy).
const maxPolicyPage = 20

// Policies returns the organization's policies of type typ (a
// perimeter.Type* value) whose names start with prefix, each with its
// content (DescribePolicy) and the IDs of the roots, OUs and accounts it
// is attached to (ListTargetsForPolicy), and how many calls that took.
// ListPolicies filters by type ("Filter … Specifies the type of policy
// that you want to include in the response", Organizations API reference,
// ListPolicies), so the organization's other policies cost only their
// share of a page. An error names the call and the policy it was about.
func (o *Organization) Policies(ctx context.Context, typ, prefix string) ([]perimeter.Deployed, int, error) {
	calls := 0
	var out []perimeter.Deployed
	p := organizations.NewListPoliciesPaginator(o.api, &organizations.ListPoliciesInput{Filter: types.PolicyType(typ), MaxResults: aws.Int32(maxPolicyPage)})
	var mine []types.PolicySummary
	for p.HasMorePages() {
		calls++
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, calls, fmt.Errorf("organizations:ListPolicies %s page %d: %w", typ, calls, err)
		}
		for _, s := range page.Policies {
			if strings.HasPrefix(aws.ToString(s.Name), prefix) {
				mine = append(mine, s)
			}
		}
	}
	for _, s := range mine {
		id, name := aws.ToString(s.Id), aws.ToString(s.Name)
		calls++
		d, err := o.api.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: s.Id})
		if err != nil {
			return nil, calls, fmt.Errorf("organizations:DescribePolicy %s (%s, %s): %w", id, name, aws.ToString(s.Arn), err)
		}
		dep := perimeter.Deployed{Name: name, Type: string(s.Type), ARN: aws.ToString(s.Arn), Targets: []string{}}
		if d.Policy != nil {
			dep.Content = aws.ToString(d.Policy.Content)
		}
		tp := organizations.NewListTargetsForPolicyPaginator(o.api, &organizations.ListTargetsForPolicyInput{PolicyId: s.Id, MaxResults: aws.Int32(maxPolicyPage)})
		for tp.HasMorePages() {
			calls++
			page, err := tp.NextPage(ctx)
			if err != nil {
				return nil, calls, fmt.Errorf("organizations:ListTargetsForPolicy %s (%s, %s): %w", id, name, aws.ToString(s.Arn), err)
			}
			for _, t := range page.Targets {
				dep.Targets = append(dep.Targets, aws.ToString(t.TargetId))
			}
		}
		out = append(out, dep)
	}
	return out, calls, nil
}

// Membership is whether the hub guards an account, and why not.
type Membership struct {
	Account string
	Member  bool
	// Reason says why an account is not guarded; "" for a member.
	Reason string
}

// Check says whether the hub guards account. Outside the organization (or
// the configured list): no, with the reason. The management account: no,
// because StackSets with service-managed permissions never deploy to it,
// so it holds no member role (AWS CloudFormation User Guide, "Activate
// automatic deployments", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-associate-stackset-with-org.html);
// it is guarded by a single-account deployment of its own. An error is a
// failure to find out (to be retried), never a verdict.
func (o *Organization) Check(ctx context.Context, account string) (Membership, error) {
	id, mgmt, err := o.describe(ctx)
	if err != nil {
		return Membership{}, err
	}
	if account == mgmt {
		return Membership{Account: account, Reason: "account " + account + " is the management account of " + id + ", which has no member role (StackSets never deploy there); deploy the single-account stack in it"}, nil
	}
	if len(o.configured) > 0 {
		if slices.Contains(o.configured, account) {
			return Membership{Account: account, Member: true}, nil
		}
		return Membership{Account: account, Reason: "account " + account + " is not in the configured member accounts (GUARDRAIL_MEMBER_ACCOUNTS)"}, nil
	}
	o.mu.Lock()
	known, checked := o.members[account], o.notMembers[account]
	o.mu.Unlock()
	outside := Membership{Account: account, Reason: "account " + account + " is not in organization " + id}
	switch {
	case known:
		return Membership{Account: account, Member: true}, nil
	case !checked.IsZero() && o.now().Sub(checked) < NotMemberTTL:
		return outside, nil
	}
	out, err := o.api.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(account)})
	var nf *types.AccountNotFoundException
	switch {
	case errors.As(err, &nf):
		o.mu.Lock()
		o.notMembers[account] = o.now()
		o.mu.Unlock()
		return outside, nil
	case err != nil:
		return Membership{}, fmt.Errorf("organizations:DescribeAccount %s: %w", account, err)
	}
	if out.Account == nil || out.Account.Status != types.AccountStatusActive {
		return Membership{Account: account, Reason: "account " + account + " of " + id + " is not active"}, nil
	}
	o.mu.Lock()
	o.members[account] = true
	delete(o.notMembers, account)
	o.mu.Unlock()
	return Membership{Account: account, Member: true}, nil
}

// Accounts returns the member accounts to sweep, in a stable order: the
// configured list, or every active account of the organization from
// ListAccounts (20 per page, the most it allows), the management account
// left out (see Check). skipped lists the accounts left out, each with its
// reason, so the sweep can record them.
func (o *Organization) Accounts(ctx context.Context) (members []string, skipped []Membership, calls int, err error) {
	_, mgmt, err := o.describe(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	if len(o.configured) > 0 {
		for _, a := range o.configured {
			if a == mgmt {
				m, _ := o.Check(ctx, a)
				skipped = append(skipped, m)
				continue
			}
			members = append(members, a)
		}
		return members, skipped, 0, nil
	}
	p := organizations.NewListAccountsPaginator(o.api, &organizations.ListAccountsInput{MaxResults: aws.Int32(20)})
	for p.HasMorePages() {
		calls++
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, calls, fmt.Errorf("organizations:ListAccounts page %d: %w", calls, err)
		}
		for _, a := range page.Accounts {
			id := aws.ToString(a.Id)
			switch {
			case id == mgmt:
				m, _ := o.Check(ctx, id)
				skipped = append(skipped, m)
			case a.Status != types.AccountStatusActive:
				skipped = append(skipped, Membership{Account: id, Reason: "account " + id + " is " + string(a.Status)})
			default:
				members = append(members, id)
			}
		}
	}
	o.mu.Lock()
	for _, a := range members {
		o.members[a] = true
	}
	o.mu.Unlock()
	return members, skipped, calls, nil
}
