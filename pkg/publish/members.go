package publish

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"github.com/iamguardrail/guardrail/pkg/decision"
)

// MemberClients returns the Security Hub client of a member account,
// signed with that account's credentials (member.Clients.SecurityHub).
type MemberClients func(ctx context.Context, account string) (FindingsAPI, error)

// MemberFindings is Findings for an organization hub (DESIGN.md §11): the
// hub's records are its member accounts', and an account may import
// findings under its default product ARN only for itself
// (BatchImportFindings: "the identifier of the account that you are
// calling BatchImportFindings from needs to be the same as the
// AwsAccountId attribute for the finding", Security Hub API reference), so
// each member's findings are imported under that member's product ARN
// with that member's credentials (its member role). Each account has its
// own batches; Flush imports every account's.
type MemberFindings struct {
	clients  MemberClients
	template ProductARN // partition and region; the account is each member's
	accounts map[string]*Findings
	order    []string // accounts in the order they first had findings
}

var accountRe = regexp.MustCompile(`^[0-9]{12}$`)

// NewMemberFindings returns a MemberFindings publisher. product is the
// hub's own product ARN: its partition and region are kept and its account
// replaced by each member's (as the hub's lockdown policy ARN names each
// member's policy, config.Config.LockdownPolicyARNIn).
func NewMemberFindings(clients MemberClients, product ProductARN) *MemberFindings {
	return &MemberFindings{clients: clients, template: product, accounts: map[string]*Findings{}}
}

// ProductIn returns the default product ARN of account in p's partition
// and region.
func (p ProductARN) ProductIn(account string) ProductARN {
	return ProductARN{
		ARN:       "arn:" + p.Partition + ":securityhub:" + p.Region + ":" + account + ":product/" + account + "/default",
		Partition: p.Partition, Region: p.Region, Account: account,
	}
}

// Publish buffers rec's findings in its account's batch (a full batch is
// imported at once). Records without findings (BuildFindings) cost
// nothing, and records of no account (the hub's own, such as perimeter
// drift) have none.
func (m *MemberFindings) Publish(ctx context.Context, rec decision.Record) error {
	if !accountRe.MatchString(rec.Account) {
		return nil
	}
	f := m.accounts[rec.Account]
	if f == nil {
		p := m.template.ProductIn(rec.Account)
		// The time does not decide whether a record has findings.
		if len(BuildFindings(rec, p, time.Time{})) == 0 {
			return nil
		}
		f = NewFindings(memberAPI{account: rec.Account, clients: m.clients}, p)
		m.accounts[rec.Account] = f
		m.order = append(m.order, rec.Account)
	}
	if err := f.Publish(ctx, rec); err != nil {
		return fmt.Errorf("member account %s: %w", rec.Account, err)
	}
	return nil
}

// Flush imports every account's buffered findings, each with its own
// credentials; one account's failure does not keep the others'.
func (m *MemberFindings) Flush(ctx context.Context) error {
	var errs []error
	for _, a := range slices.Clone(m.order) {
		if err := m.accounts[a].Flush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("member account %s: %w", a, err))
		}
	}
	return errors.Join(errs...)
}

// memberAPI imports findings with one member account's client, fetched
// (its credentials assumed or taken from the cache) on each import.
type memberAPI struct {
	account string
	clients MemberClients
}

func (a memberAPI) BatchImportFindings(ctx context.Context, in *securityhub.BatchImportFindingsInput, optFns ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error) {
	api, err := a.clients(ctx, a.account)
	if err != nil {
		return nil, err
	}
	return api.BatchImportFindings(ctx, in, optFns...)
}
