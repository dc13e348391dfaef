package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/perimeter"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// ControlPerimeter is the control named in the findings of a perimeter
// drift record: the organization policies of issue 18 (README
// "Prevention").
const ControlPerimeter = "perimeter"

// The perimeter states of SweepSummary.Perimeter.
const (
	// PerimeterNotChecked: prevention is off or check, so no policy is
	// deployed and there is nothing to compare.
	PerimeterNotChecked = "not-checked"
	// PerimeterInStep: every policy the configuration renders is deployed
	// with that content and attached to every target, and no other
	// guardrail perimeter policy exists.
	PerimeterInStep = "in-step"
	// PerimeterDrift: at least one drift record was written.
	PerimeterDrift = "drift"
	// PerimeterError: the policies could not be rendered or read; an error
	// record says why.
	PerimeterError = "error"
)

// perimeterUndo is the instruction every perimeter drift record carries: the hub
// stack creates, updates and attaches the policies, so deploying it again
// puts back exactly what the configuration renders (and, after a
// configuration change, deploys the new documents).
const perimeterUndo = "redeploy the hub stack (cdk deploy IamRoleGuardrailHub) to restore the perimeter policies the configuration renders; if the change was intended, change the configuration (cdk.json) and redeploy"

// PerimeterDocuments returns the organization policies the hub stack
// deploys with prevention=enforce, rendered from the hub's configuration
// exactly as the stack renders them from its settings (infra/stack
// PreventionDocuments; TestSweeperRendersWhatTheHubDeploys proves the two
// equal): the lockdown inputs are guardrail.LockdownConfig's, the same the
// engine rebuilds each member's lockdown from (the lockdown policy ARN
// names the hub account and the partition); the trust zone is the hub
// account's with the configured trusted accounts, audiences and OIDC
// tenants and, as trusted organizations, the configured ones or else orgID
// (the organization itself, as the engine trusts it in each member); the
// SCPs' protected roles are the hub's own (GUARDRAIL_PROTECTED_ROLE_ARNS).
func PerimeterDocuments(cfg config.Config, orgID string) ([]perimeter.Document, error) {
	l, err := guardrail.LockdownConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("perimeter: %w", err)
	}
	orgs := cfg.TrustedOrgIDs
	if len(orgs) == 0 && orgID != "" {
		orgs = []string{orgID}
	}
	z := trust.Zone{Account: l.Account, Partition: l.Partition, TrustedAccounts: cfg.TrustedAccounts, TrustedOrgIDs: orgs,
		TrustedAudiences: cfg.TrustedAudiences, TrustedOIDCTenants: cfg.TrustedOIDCTenants}
	docs, err := perimeter.Render(z, l, perimeter.SCPOptions{ProtectedRoleARNs: cfg.ProtectedRoleARNs})
	if err != nil {
		return nil, fmt.Errorf("perimeter: %w", err)
	}
	return docs, nil
}

// perimeterCheck is what checkPerimeter found, for the run's summary.
type perimeterCheck struct {
	state  string
	drifts int
	calls  int
}

// checkPerimeter compares the deployed perimeter policies with what the
// configuration renders (perimeter.Compare) when prevention is enforce,
// and emits one error record per drift, or one error record when the
// policies cannot be rendered or read: never silence. In check or off mode
// nothing is deployed, so nothing is compared. The reads are the hub's
// own (Organizations, from the management account or a delegated
// administrator for policy management).
func (h *Hub) checkPerimeter(ctx context.Context, opts SweepOptions, emit func(decision.Record)) perimeterCheck {
	if h.cfg.Prevention != config.PreventionEnforce {
		return perimeterCheck{state: PerimeterNotChecked}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	var res perimeterCheck
	record := func(account, policyARN string) decision.Record {
		if a, err := arn.Parse(policyARN); err == nil && a.AccountID != "aws" {
			account = a.AccountID
		}
		t := opts.Trigger
		return decision.Record{
			EventID: t.EventID, EventName: t.EventName, EventTime: t.EventTime, Actor: t.Actor, Account: account,
			Mode:    decision.Modes{Trust: h.cfg.TrustMode, Lockdown: h.cfg.LockdownMode},
			Outcome: decision.OutcomeError, PolicyARN: policyARN,
			DurationMS: now().Sub(start).Milliseconds(), APICalls: res.calls, Version: opts.Version,
		}
	}
	fail := func(account, policy string, err error) perimeterCheck {
		rec := record(account, "")
		rec.Findings = []decision.Finding{{Control: ControlPerimeter, Policy: policy, Reason: "perimeter-unchecked: " + err.Error()}}
		rec.Error = fmt.Sprintf("perimeter check of %s failed, drift unknown: %v", policy, err)
		emit(rec)
		res.state = PerimeterError
		return res
	}
	// The hub's own account, which the configuration's lockdown ARN
	// names: the account making the reads, named when the management
	// account is not known.
	hubAccount := ""
	if a, err := arn.Parse(h.cfg.LockdownPolicyARN); err == nil {
		hubAccount = a.AccountID
	}
	prefix := lockdown.DefaultNamePrefix + "-Perimeter-"
	what := "the guardrail perimeter policies (" + prefix + "*)"
	orgID, err := h.org.ID(ctx)
	if err != nil {
		return fail(hubAccount, what, err)
	}
	mgmt, _ := h.org.Management(ctx)
	if mgmt == "" {
		mgmt = hubAccount
	}
	want, err := PerimeterDocuments(h.cfg, orgID)
	if err != nil {
		return fail(mgmt, what, err)
	}
	var got []perimeter.Deployed
	for _, typ := range []string{perimeter.TypeRCP, perimeter.TypeSCP} {
		deployed, calls, err := h.org.Policies(ctx, typ, prefix)
		res.calls += calls
		if err != nil {
			return fail(mgmt, what, err)
		}
		got = append(got, deployed...)
	}
	contents := map[string]string{}
	for _, d := range got {
		contents[d.Name] = d.Content
	}
	drifts := perimeter.Compare(want, h.cfg.PreventionTargets, lockdown.DefaultNamePrefix, got)
	for _, d := range drifts {
		rec := record(mgmt, d.ARN)
		rec.Findings = []decision.Finding{{Control: ControlPerimeter, Policy: d.Policy, Reason: "perimeter-" + d.Kind + ": " + d.Detail}}
		if c := contents[d.Policy]; d.Kind == "edited" && c != "" {
			rec.PolicyBefore = jsonOrNil(c)
		}
		rec.Error = fmt.Sprintf("perimeter drift: %s is %s: %s; %s", describe(d), d.Kind, d.Detail, perimeterUndo)
		emit(rec)
	}
	res.drifts = len(drifts)
	res.state = PerimeterInStep
	if len(drifts) > 0 {
		res.state = PerimeterDrift
	}
	return res
}

// describe names a drifting policy with its ARN when it has one.
func describe(d perimeter.Drift) string {
	if d.ARN != "" {
		return d.Policy + " (" + d.ARN + ")"
	}
	return d.Policy
}

// jsonOrNil returns s as a JSON document for the record, or nil when it is
// not JSON (the finding says the content differs either way).
func jsonOrNil(s string) []byte {
	s = strings.TrimSpace(s)
	if !json.Valid([]byte(s)) {
		return nil
	}
	return []byte(s)
}
