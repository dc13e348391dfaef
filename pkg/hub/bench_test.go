package hub

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
	"github.com/iamguardrail/guardrail/pkg/member"
)

// scaleOrg is an organization of members accounts, each with the member
// stack and roles compliant service roles (the lockdown policy attached),
// and a hub running as the sweeper role.
type scaleOrg struct {
	srv     *iamtest.Server
	hub     *Hub
	members []string
}

func newScaleOrg(tb testing.TB, members, roles int) *scaleOrg {
	tb.Helper()
	ids := []string{sandbox.Account}
	for i := range members {
		ids = append(ids, fmt.Sprintf("5%011d", i+1))
	}
	srv := iamtest.NewServer(iamtest.WithAccounts(ids...))
	tb.Cleanup(srv.Close)
	ctx := context.Background()
	dep, err := sandbox.DeployOrgMembers(ctx, srv, config.Enforce, ids[1:])
	if err != nil {
		tb.Fatal(err)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	var wg sync.WaitGroup
	errs := make(chan error, members)
	for _, m := range ids[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			admin, err := dep.Admin(ctx, m)
			if err != nil {
				errs <- err
				return
			}
			for i := range roles {
				name := fmt.Sprintf("app-%04d", i)
				if _, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
					errs <- err
					return
				}
				if _, err := admin.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name),
					PolicyArn: aws.String("arn:aws:iam::" + m + ":policy/GuardrailLockdown")}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	hubCfg, err := dep.HubConfig(sandbox.SweeperRole)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := New(dep.Config, member.NewOrganization(organizations.NewFromConfig(hubCfg), nil),
		member.NewClients(hubCfg, dep.Config.MemberRoleARN), guardrail.WithVersion("bench"))
	if err != nil {
		tb.Fatal(err)
	}
	return &scaleOrg{srv: srv, hub: h, members: ids[1:]}
}

// callsPerAccount counts the hub's calls since the last ResetCalls: IAM
// calls made in each member account with the member role's session, and
// the hub's AssumeRole calls.
func (o *scaleOrg) callsPerAccount() (iamCalls map[string]int, assumeRoles int) {
	iamCalls = map[string]int{}
	for _, c := range o.srv.CallLog() {
		switch {
		case c.Action == "AssumeRole" && c.Account == sandbox.Account:
			assumeRoles++
		case c.Account != sandbox.Account && strings.HasPrefix(c.Caller, "ASIA") && iamtest.IsWriteAction(c.Action):
			iamCalls[c.Account] += 1000 // a write in a compliant organization: fail loudly below
		case c.Account != sandbox.Account && c.Action != "AssumeRole":
			iamCalls[c.Account]++
		}
	}
	return iamCalls, assumeRoles
}

func (o *scaleOrg) sweep(tb testing.TB) SweepSummary {
	sum, err := o.hub.Sweep(context.Background(), SweepOptions{Trigger: guardrail.Trigger{EventID: "bench", EventName: "Sweep"}},
		func(decision.Record) {}, func(AccountSummary) {})
	if err != nil {
		tb.Fatal(err)
	}
	return sum
}

// A compliant member account costs the hub one AssumeRole and at most
// three IAM reads (the lockdown policy's versions and default document,
// one GetAccountAuthorizationDetails page per 1,000 roles); a second run
// in the same container reuses the credentials (no AssumeRole).
func TestSweepCallsPerCompliantAccount(t *testing.T) {
	o := newScaleOrg(t, 5, 60)
	o.srv.ResetCalls()
	sum := o.sweep(t)
	if sum.AccountsSwept != 5 || sum.Compliant != 5*60 || sum.Changed != 0 {
		t.Fatalf("summary %+v", sum)
	}
	perAccount, assumes := o.callsPerAccount()
	if assumes != 5 {
		t.Errorf("%d AssumeRole calls for 5 accounts, want one each", assumes)
	}
	for _, m := range o.members {
		if perAccount[m] > 3 {
			t.Errorf("account %s: %d IAM calls, want at most 3", m, perAccount[m])
		}
	}
	o.srv.ResetCalls()
	o.sweep(t)
	if _, assumes := o.callsPerAccount(); assumes != 0 {
		t.Errorf("second sweep: %d AssumeRole calls, want 0 (cached credentials)", assumes)
	}
}

// BenchmarkSweepOrganization sweeps 50 member accounts of 400 compliant
// roles each (plus each account's two stack roles): wall time per sweep,
// IAM and STS calls per account, peak heap growth during the sweep. Each
// iteration uses a fresh hub (fresh credentials: one AssumeRole per account).
//
//	go test -run '^$' -bench SweepOrganization -benchmem ./pkg/hub
func BenchmarkSweepOrganization(b *testing.B) {
	const members, roles = 50, 400
	o := newScaleOrg(b, members, roles)
	var peak uint64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		fresh, err := New(o.hub.cfg, o.hub.org, member.NewClients(o.hub.clients.(*member.Clients).Config(), o.hub.cfg.MemberRoleARN), o.hub.opts...)
		if err != nil {
			b.Fatal(err)
		}
		o.hub = fresh
		o.srv.ResetCalls()
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		stop := make(chan struct{})
		done := make(chan uint64)
		go func() {
			var max uint64
			t := time.NewTicker(2 * time.Millisecond)
			defer t.Stop()
			for {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > base.HeapAlloc && ms.HeapAlloc-base.HeapAlloc > max {
					max = ms.HeapAlloc - base.HeapAlloc
				}
				select {
				case <-stop:
					done <- max
					return
				case <-t.C:
				}
			}
		}()
		b.StartTimer()
		sum := o.sweep(b)
		b.StopTimer()
		close(stop)
		peak = max(peak, <-done)
		if sum.AccountsSwept != members || sum.Compliant != members*roles {
			b.Fatalf("summary %+v", sum)
		}
		b.StartTimer()
	}
	b.StopTimer()
	perAccount, assumes := o.callsPerAccount()
	most, total := 0, 0
	for _, n := range perAccount {
		most, total = max(most, n), total+n
	}
	b.ReportMetric(float64(assumes)/members, "assume-role/account")
	b.ReportMetric(float64(total)/members, "iam-calls/account")
	b.ReportMetric(float64(most), "max-iam-calls/account")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}
