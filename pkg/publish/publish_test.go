package publish

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const product = "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default"

func record(outcome decision.Outcome, result decision.Result) decision.Record {
	lag := int64(900)
	return decision.Record{
		EventID: "ev-1", EventName: "UpdateAssumeRolePolicy", EventTime: t0, Actor: "arn:aws:iam::111122223333:user/dev",
		Account: "111122223333", RoleARN: "arn:aws:iam::111122223333:role/app", RoleName: "app", RolePath: "/",
		Class: "service", Mode: decision.Modes{Trust: config.Enforce, Lockdown: config.Enforce}, Outcome: outcome,
		Findings: []decision.Finding{{Control: "trust", Principal: "AWS:arn:aws:iam::999988887777:root", Kind: "foreign-account", Removed: true}},
		Actions:  []decision.Action{{Control: "trust", API: "UpdateAssumeRolePolicy", Result: result}},
		Lockdown: decision.LockdownPresent, DeliveryLagMS: &lag, Version: "test",
		TrustPolicyBefore: json.RawMessage(`{"Version":"2012-10-17","Statement":[]}`),
		Undo:              []string{"aws iam update-assume-role-policy --role-name app --policy-document '{}'"},
	}
}

type fakeEvents struct {
	calls []*eventbridge.PutEventsInput
	err   error
	fail  bool
}

func (f *fakeEvents) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	out := &eventbridge.PutEventsOutput{Entries: []ebtypes.PutEventsResultEntry{{EventId: aws.String("id")}}}
	if f.fail {
		out.FailedEntryCount = 1
		out.Entries = []ebtypes.PutEventsResultEntry{{ErrorCode: aws.String("InternalFailure"), ErrorMessage: aws.String("boom")}}
	}
	return out, nil
}

// Only changed, would-change and error decisions become events, each the
// whole record as its log line holds it.
func TestEventsPublish(t *testing.T) {
	for _, tc := range []struct {
		outcome decision.Outcome
		want    bool
	}{
		{decision.OutcomeChanged, true}, {decision.OutcomeWouldChange, true}, {decision.OutcomeError, true},
		{decision.OutcomeCompliant, false}, {decision.OutcomeSkipped, false}, {decision.OutcomeIgnored, false}, {decision.OutcomeRoleGone, false},
	} {
		f := &fakeEvents{}
		rec := record(tc.outcome, decision.ResultDone)
		if err := NewEvents(f, "default").Publish(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		if got := len(f.calls) == 1; got != tc.want {
			t.Errorf("%s: published %v, want %v", tc.outcome, got, tc.want)
			continue
		}
		if !tc.want {
			continue
		}
		e := f.calls[0].Entries[0]
		if aws.ToString(e.Source) != Source || aws.ToString(e.DetailType) != DetailType || aws.ToString(e.EventBusName) != "default" ||
			len(e.Resources) != 1 || e.Resources[0] != rec.RoleARN {
			t.Errorf("%s: entry %+v", tc.outcome, e)
		}
		// The detail is the record, member for member, plus the
		// notification.
		var got, want map[string]any
		json.Unmarshal([]byte(aws.ToString(e.Detail)), &got)
		b, _ := rec.JSON()
		json.Unmarshal(b, &want)
		note, _ := got[NotificationField].(map[string]any)
		delete(got, NotificationField)
		if !jsonEq(got, want) {
			t.Errorf("%s: detail\n%s\nwant\n%s", tc.outcome, aws.ToString(e.Detail), b)
		}
		if note == nil || !strings.Contains(note["summary"].(string), rec.RoleARN) || !strings.Contains(note["undo"].(string), rec.Undo[0]) ||
			!strings.Contains(note["removed"].(string), "999988887777") {
			t.Errorf("%s: notification %v", tc.outcome, note)
		}
	}
}

func TestEventsPublishFailures(t *testing.T) {
	rec := record(decision.OutcomeChanged, decision.ResultDone)
	if err := NewEvents(&fakeEvents{err: errors.New("no network")}, "default").Publish(context.Background(), rec); err == nil || !strings.Contains(err.Error(), "no network") {
		t.Errorf("call error: %v", err)
	}
	if err := NewEvents(&fakeEvents{fail: true}, "default").Publish(context.Background(), rec); err == nil || !strings.Contains(err.Error(), "InternalFailure") {
		t.Errorf("failed entry: %v", err)
	}
}

// A record too large for one entry loses its bulkiest fields, in
// trimOrder, and names them; what says what happened stays.
func TestEntryTrimmed(t *testing.T) {
	rec := record(decision.OutcomeChanged, decision.ResultDone)
	big := strings.Repeat("x", 100*1024)
	for i := 0; i < 3; i++ {
		rec.Principals = append(rec.Principals, decision.Principal{Type: "AWS", Value: big})
	}
	e, err := Entry(rec)
	if err != nil {
		t.Fatal(err)
	}
	if n := EntrySize(e); n >= MaxEntrySize {
		t.Fatalf("entry of %d bytes", n)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(e.Detail)), &d); err != nil {
		t.Fatal(err)
	}
	if got := d[TruncatedField]; !jsonEq(got, []any{"principals"}) || d["principals"] != nil || d["role_arn"] != rec.RoleARN || d["undo"] == nil {
		t.Errorf("trimmed detail: truncated %v, role %v, undo %v", got, d["role_arn"], d["undo"])
	}
	// A record that fits is not marked.
	e, _ = Entry(record(decision.OutcomeChanged, decision.ResultDone))
	if strings.Contains(aws.ToString(e.Detail), TruncatedField) {
		t.Error("small record marked truncated")
	}
	// One that cannot fit even trimmed is an error, not a broken event.
	huge := record(decision.OutcomeChanged, decision.ResultDone)
	huge.RoleName = strings.Repeat("y", MaxEntrySize)
	if _, err := Entry(huge); err == nil {
		t.Error("oversized record accepted")
	}
}

func jsonEq(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

type fakeHub struct {
	calls  [][]types.AwsSecurityFinding
	failed int32
}

func (f *fakeHub) BatchImportFindings(_ context.Context, in *securityhub.BatchImportFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error) {
	f.calls = append(f.calls, in.Findings)
	return &securityhub.BatchImportFindingsOutput{FailedCount: aws.Int32(f.failed), SuccessCount: aws.Int32(int32(len(in.Findings)) - f.failed)}, nil
}

// A role in check mode fails its control (ACTIVE, FAILED, NEW); once it
// complies the same finding ID is PASSED, RESOLVED and archived.
func TestFindingStates(t *testing.T) {
	p, err := ParseProductARN(product)
	if err != nil {
		t.Fatal(err)
	}
	would := record(decision.OutcomeWouldChange, decision.ResultWould)
	would.Mode.Trust = config.Check
	fixed := record(decision.OutcomeCompliant, decision.ResultDone)
	fixed.Actions = nil
	a, b := BuildFindings(would, p, t0), BuildFindings(fixed, p, t0.Add(time.Minute))
	if len(a) != 2 || len(b) != 2 {
		t.Fatalf("%d and %d findings, want one per control", len(a), len(b))
	}
	trustA, trustB := a[0], b[0]
	if aws.ToString(trustA.Id) != aws.ToString(trustB.Id) || aws.ToString(trustA.Id) != FindingID(would.RoleARN, "trust") {
		t.Errorf("IDs %s, %s", aws.ToString(trustA.Id), aws.ToString(trustB.Id))
	}
	if trustA.RecordState != types.RecordStateActive || trustA.Compliance.Status != types.ComplianceStatusFailed || trustA.Workflow.Status != types.WorkflowStatusNew ||
		trustA.Severity.Label != types.SeverityLabelHigh || !strings.Contains(aws.ToString(trustA.Description), "999988887777") {
		t.Errorf("failing finding %+v", trustA)
	}
	if trustB.RecordState != types.RecordStateArchived || trustB.Compliance.Status != types.ComplianceStatusPassed || trustB.Workflow.Status != types.WorkflowStatusResolved {
		t.Errorf("fixed finding %+v", trustB)
	}
	if a[1].Compliance.Status != types.ComplianceStatusPassed || aws.ToString(a[1].Id) != FindingID(would.RoleARN, "lockdown") {
		t.Errorf("lockdown finding %+v", a[1])
	}
	for _, f := range a {
		if aws.ToString(f.ProductArn) != product || aws.ToString(f.AwsAccountId) != "111122223333" || aws.ToString(f.SchemaVersion) != "2018-10-08" ||
			len(f.Resources) != 1 || aws.ToString(f.Resources[0].Id) != would.RoleARN || aws.ToString(f.Resources[0].Type) != "AwsIamRole" ||
			f.ProductFields["guardrail/undo/0"] != would.Undo[0] || f.Remediation == nil {
			t.Errorf("finding %+v", f)
		}
	}
	// No findings for roles the guardrail never touches, failed or
	// ignored evaluations, controls in skip mode, or another account.
	skip := fixed
	skip.Mode.Lockdown = config.Skip
	other := fixed
	other.Account = "444455556666"
	managed := fixed
	managed.Class = "aws-managed"
	errRec := record(decision.OutcomeError, decision.ResultFailed)
	for name, tc := range map[string]struct {
		r    decision.Record
		want int
	}{"skip": {skip, 1}, "other account": {other, 0}, "aws-managed": {managed, 0}, "error": {errRec, 0}} {
		if n := len(BuildFindings(tc.r, p, t0)); n != tc.want {
			t.Errorf("%s: %d findings, want %d", name, n, tc.want)
		}
	}
}

func TestFindingsBatches(t *testing.T) {
	p, _ := ParseProductARN(product)
	hub := &fakeHub{}
	f := NewFindings(hub, p)
	rec := record(decision.OutcomeCompliant, decision.ResultDone)
	rec.Actions = nil
	for i := 0; i < 60; i++ { // 120 findings
		if err := f.Publish(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	if len(hub.calls) != 1 || len(hub.calls[0]) != 100 {
		t.Fatalf("before flush: %d calls", len(hub.calls))
	}
	if err := f.Flush(context.Background()); err != nil || len(hub.calls) != 2 || len(hub.calls[1]) != 20 {
		t.Fatalf("after flush: %d calls, %v", len(hub.calls), err)
	}
	if err := f.Flush(context.Background()); err != nil || len(hub.calls) != 2 {
		t.Errorf("empty flush made a call")
	}
	hub.failed = 1
	f.Publish(context.Background(), rec)
	if err := f.Flush(context.Background()); err == nil {
		t.Error("failed findings not reported")
	}
}

func TestFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	p, err := FromEnv(context.Background(), env(nil))
	if p != nil || err != nil {
		t.Errorf("nothing configured: %v, %v", p, err)
	}
	for _, bad := range []map[string]string{
		{EnvEventBus: "bad bus!"},
		{EnvSecurityHubProductARN: "arn:aws:securityhub:us-east-1:111122223333:product/444455556666/default"},
		{EnvSecurityHubProductARN: "arn:aws:securityhub:us-east-1::product/aws/securityhub"},
	} {
		if _, err := FromEnv(context.Background(), env(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	t.Setenv("AWS_REGION", "us-east-1")
	p, err = FromEnv(context.Background(), env(map[string]string{EnvEventBus: "default", EnvSecurityHubProductARN: product}))
	if err != nil || len(p.(All)) != 2 {
		t.Errorf("both configured: %v, %v", p, err)
	}
}
