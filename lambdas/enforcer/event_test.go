package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/lambdas/fixtures"
	"github.com/iamguardrail/guardrail/pkg/cloudtrail"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
)

func loadEvent(t *testing.T, name string) events.CloudWatchEvent {
	t.Helper()
	f, err := fixtures.Event(name)
	if err != nil {
		t.Fatal(err)
	}
	return f.Event
}

// editDetail returns ev with its detail changed by edit.
func editDetail(t *testing.T, ev events.CloudWatchEvent, edit func(d map[string]any)) events.CloudWatchEvent {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		t.Fatal(err)
	}
	edit(d)
	ev.Detail, _ = json.Marshal(d)
	return ev
}

// The handler hands the decoded event to the engine whole: exactly what
// Decode returned, with the receive time (issue 10, item 8).
func TestHandlePassesTheDecodedEvent(t *testing.T) {
	for _, name := range []string{"CreateRole-foreign-account.json", "DetachRolePolicy-lockdown.json", "DeleteRolePolicy-inline.json"} {
		t.Run(name, func(t *testing.T) {
			ev := loadEvent(t, name)
			fe := &fakeEngine{rec: decision.Record{Outcome: "compliant"}}
			out := &bytes.Buffer{}
			h := newHandler(fe, config.Config{MetricsNamespace: "T"}, out, "v1")
			received := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			h.now = func() time.Time { return received }
			if err := h.Handle(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			want, err := cloudtrail.Decode(ev)
			if err != nil {
				t.Fatal(err)
			}
			want.ReceivedAt = received
			if fe.ev != want {
				t.Errorf("engine got %+v\nwant        %+v", fe.ev, want)
			}
			if fe.ev.Account != "111122223333" {
				t.Errorf("account %q not passed", fe.ev.Account)
			}
		})
	}
}

// Through the handler and the real engine: a CreateRole event for a role
// deleted 15 minutes before delivery is role-gone, acknowledged, and its
// record names the event's account (issue 10, items 8 and 9).
func TestHandleRoleDeletedBeforeDelivery(t *testing.T) {
	w := newWorld(t, config.Enforce)
	ev := loadEvent(t, "CreateRole-foreign-account.json")
	created := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	ev = editDetail(t, ev, func(d map[string]any) { d["eventTime"] = created.Format(time.RFC3339) })
	w.h.now = func() time.Time { return created.Add(15 * time.Minute) }
	d, err := w.handleOne(t, ev)
	if err != nil {
		t.Fatalf("invocation failed: %v", err)
	}
	if d.Outcome != decision.OutcomeRoleGone || d.Account != "111122223333" || d.RoleName != "partner-reporting" {
		t.Errorf("decision %+v", d)
	}
	if w.srv.WriteCalls() != 0 || w.srv.Calls("GetRole") != 1 {
		t.Errorf("%d writes, %d GetRole", w.srv.WriteCalls(), w.srv.Calls("GetRole"))
	}
}

// Policy-version events: on the lockdown policy they restore its document,
// on any other policy they are ignored with a reason (issue 10, item 6).
func TestHandleLockdownPolicyEvents(t *testing.T) {
	w := newWorld(t, config.Enforce)
	ctx := context.Background()
	weak := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::x/*"}]}`
	out, err := w.srv.Client().CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{
		PolicyArn: aws.String(w.dep.LockdownPolicyARN), PolicyDocument: aws.String(weak), SetAsDefault: true})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(-2 * time.Second).Truncate(time.Second)
	ev := editDetail(t, loadEvent(t, "DetachRolePolicy-lockdown.json"), func(d map[string]any) {
		d["eventName"] = "CreatePolicyVersion"
		d["eventTime"] = at.Format(time.RFC3339)
		d["requestParameters"] = map[string]any{"policyArn": w.dep.LockdownPolicyARN, "policyDocument": weak, "setAsDefault": true}
		d["responseElements"] = map[string]any{"policyVersion": map[string]any{"versionId": *out.PolicyVersion.VersionId, "isDefaultVersion": true}}
	})
	d, err := w.handleOne(t, ev)
	if err != nil {
		t.Fatal(err)
	}
	if d.Outcome != decision.OutcomeChanged || d.Lockdown != decision.LockdownRestored || d.PolicyARN != w.dep.LockdownPolicyARN {
		t.Errorf("decision %+v", d)
	}
	if doc, _ := w.srv.PolicyDocument(w.dep.LockdownPolicyARN); doc == weak {
		t.Error("lockdown document not restored")
	}
	writes := w.srv.WriteCalls()
	if d, err := w.handleOne(t, ev); err != nil || d.Outcome != decision.OutcomeCompliant || w.srv.WriteCalls() != writes {
		t.Errorf("duplicate: %v %+v, %d writes", err, d, w.srv.WriteCalls()-writes)
	}

	other := editDetail(t, ev, func(d map[string]any) {
		d["requestParameters"] = map[string]any{"policyArn": "arn:aws:iam::111122223333:policy/app-policy", "policyDocument": weak, "setAsDefault": true}
	})
	d, err = w.handleOne(t, other)
	if err != nil || d.Outcome != decision.OutcomeIgnored || d.Reason == "" || w.srv.WriteCalls() != writes {
		t.Errorf("other policy: %v %+v", err, d)
	}
}
