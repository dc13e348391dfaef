package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/lambdas/fixtures"
	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/cloudtrail"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

// Bad input (issue 14, item 3): whatever JSON arrives, the handler never
// panics, writes exactly one decision record, either acknowledges the event
// with a reason (or an evaluation outcome) or fails it with an error, and
// never writes to IAM unless the event decoded to a change it handles.

// openTrust is the trust policy of the role every fuzzed event may name: a
// foreign account, so a handled event has something to restrict.
const openTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`

// fuzzWorld is a sandbox account holding, besides the deployment, a role
// with the name an event names (when it is a valid role name), open to a
// foreign account and without the lockdown.
func fuzzWorld(t *testing.T, roleName, claim string) *world {
	t.Helper()
	srv := iamtest.NewServer()
	t.Cleanup(srv.Close)
	dep, err := sandbox.Deploy(srv, config.Enforce)
	if err != nil {
		t.Fatal(err)
	}
	cfg := dep.Config
	if roleName != "" {
		// The role as the event left it (its claimed trust, when IAM would
		// accept it), else open to a foreign account. Not every name is a
		// valid IAM role name; those are simply absent.
		// CreateRole validates the document as IAM does; SeedRole does not.
		_, err := srv.Client().CreateRole(context.Background(), &iam.CreateRoleInput{
			RoleName: aws.String(roleName), AssumeRolePolicyDocument: aws.String(claim)})
		if claim == "" || err != nil {
			_, _ = srv.SeedRole(iamtest.Role{Name: roleName, TrustPolicy: openTrust})
		}
	}
	engine, err := guardrail.New(srv.Client(), cfg, guardrail.WithVersion("fuzz"),
		guardrail.WithStaleReadBackoff([]time.Duration{time.Millisecond}),
		guardrail.WithSleep(func(context.Context, time.Duration) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	out := &bytes.Buffer{}
	srv.ResetCalls()
	return &world{srv: srv, dep: dep, h: newHandler(engine, cfg, out, "fuzz"), out: out}
}

// checkHandled runs ev through a fresh world and checks the handler's
// contract; it returns the single decision line.
func checkHandled(t *testing.T, ev events.CloudWatchEvent) (line, error) {
	t.Helper()
	change, decodeErr := cloudtrail.Decode(ev)
	w := fuzzWorld(t, change.RoleName, change.TrustPolicy)
	// A short deadline: a fresh event naming a role IAM does not show would
	// otherwise be waited for (IAM's consistency window), as in Lambda.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := w.h.Handle(ctx, ev)
	var decisions []line
	for _, l := range strings.Split(strings.TrimSpace(w.out.String()), "\n") {
		var m map[string]json.RawMessage
		if uerr := json.Unmarshal([]byte(l), &m); uerr != nil {
			t.Fatalf("output line is not JSON: %q", l)
		}
		if _, ok := m["_aws"]; ok {
			continue
		}
		var d line
		if uerr := json.Unmarshal([]byte(l), &d); uerr != nil || d.Msg != decision.Message {
			t.Fatalf("unexpected output line %s", l)
		}
		decisions = append(decisions, d)
	}
	if len(decisions) != 1 {
		t.Fatalf("wrote %d decision records, want exactly 1:\n%s", len(decisions), w.out.String())
	}
	d := decisions[0]
	switch {
	case err != nil && d.Outcome != "error":
		t.Errorf("failed with %v but the record's outcome is %q", err, d.Outcome)
	case err == nil && d.Outcome == "error":
		t.Errorf("acknowledged an event whose record says error: %+v", d)
	case err == nil && d.Outcome == "ignored" && d.Reason == "":
		t.Errorf("ignored without a reason: %+v", d)
	case err == nil && d.Outcome == "":
		t.Errorf("acknowledged without an outcome: %+v", d)
	}
	if writes := w.srv.WriteCalls(); writes > 0 {
		handled := decodeErr == nil &&
			(slices.Contains(cloudtrail.RoleEventNames, change.EventName) || slices.Contains(cloudtrail.LockdownPolicyEventNames, change.EventName))
		if !handled || d.Outcome == "ignored" {
			t.Errorf("%d IAM writes for an event that did not decode to a handled change (decode: %v, outcome %q)", writes, decodeErr, d.Outcome)
		}
	}
	return d, err
}

// seedEvents returns every event of events/ and every record of the corpus,
// as EventBridge would deliver them.
func seedEvents(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, dir := range []func() (string, error){fixtures.EventsDir, fixtures.CorpusDir} {
		d, err := dir()
		if err != nil {
			t.Fatal(err)
		}
		files, err := fixtures.Dir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			out = append(out, f.Raw)
		}
	}
	if len(out) < 60 {
		t.Fatalf("only %d seed events", len(out))
	}
	return out
}

// FuzzHandle feeds arbitrary event JSON to the handler. `make test` runs the
// seeds (every file of events/ and of the CloudTrail corpus); run it longer
// with: go test ./lambdas/enforcer -run '^$' -fuzz FuzzHandle -fuzztime 5m -parallel 1
func FuzzHandle(f *testing.F) {
	for _, raw := range seedEvents(f) {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ev events.CloudWatchEvent
		// The Lambda runtime decodes the payload before the handler runs;
		// a payload it cannot decode never reaches the handler.
		if json.Unmarshal(raw, &ev) != nil {
			return
		}
		checkHandled(t, ev)
	})
}

// TestHandleHostileEvents feeds the handler events built to hurt: each must
// end as the table says, with the contract of checkHandled.
func TestHandleHostileEvents(t *testing.T) {
	base := loadEvent(t, "CreateRole-foreign-account.json")
	withDetail := func(edit func(d map[string]any)) events.CloudWatchEvent {
		return editDetail(t, base, edit)
	}
	req := func(d map[string]any) map[string]any { return d["requestParameters"].(map[string]any) }
	deep := strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000)
	bigDoc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Sid":"` +
		strings.Repeat("A", 1<<20) + `"}]}`

	tests := []struct {
		name    string
		ev      events.CloudWatchEvent
		outcome decision.Outcome // wanted outcome
		reason  string           // for ignored: a part of the reason
		wantErr bool
	}{
		{name: "no requestParameters", ev: withDetail(func(d map[string]any) { delete(d, "requestParameters") }),
			// CreateRole records also name the role in responseElements.
			outcome: "changed"},
		{name: "no requestParameters nor responseElements", ev: withDetail(func(d map[string]any) {
			delete(d, "requestParameters")
			delete(d, "responseElements")
		}), outcome: "ignored", reason: "names no role"},
		{name: "roleName a number", ev: withDetail(func(d map[string]any) { req(d)["roleName"] = 42 }),
			outcome: "ignored", reason: "roleName"},
		{name: "roleName null", ev: withDetail(func(d map[string]any) { req(d)["roleName"] = nil }),
			outcome: "changed"},
		{name: "requestParameters a string", ev: withDetail(func(d map[string]any) { d["requestParameters"] = "roleName=partner-reporting" }),
			outcome: "ignored", reason: "requestParameters"},
		{name: "eventName a list", ev: withDetail(func(d map[string]any) { d["eventName"] = []string{"CreateRole"} }),
			outcome: "ignored", reason: "no eventName"},
		{name: "eventTime garbage", ev: withDetail(func(d map[string]any) { d["eventTime"] = "yesterday" }),
			// The role is still evaluated: the label is wrong, not the change.
			outcome: "changed"},
		{name: "userIdentity a number", ev: withDetail(func(d map[string]any) { d["userIdentity"] = 7 }),
			outcome: "changed"},
		{name: "trust document wrong type", ev: withDetail(func(d map[string]any) { req(d)["assumeRolePolicyDocument"] = 5 }),
			// The claim is dropped, not guessed: the role's real trust is evaluated.
			outcome: "changed"},
		{name: "trust document IAM would refuse", ev: withDetail(func(d map[string]any) { req(d)["assumeRolePolicyDocument"] = map[string]any{"Statement": 5} }),
			// The claim cannot be parsed: the engine takes it for a limit of
			// its parser and evaluates the role's real trust.
			outcome: "changed"},
		{name: "1 MB policy document", ev: withDetail(func(d map[string]any) { req(d)["assumeRolePolicyDocument"] = bigDoc }),
			// IAM refuses such a document (2,048-character quota), so the
			// role never shows it. The event is older than IAM's
			// consistency window, so the read is the newer state (README
			// "Consistency"): the role's real trust is evaluated and
			// restricted; the 1 MB copy is never what is written.
			outcome: "changed"},
		{name: "invalid UTF-8 role name", ev: withRawDetail(t, base, `"partner-reporting"`, "\"partner-\xff\xfereporting\""),
			outcome: "ignored", reason: "not a valid IAM role name"},
		{name: "invalid UTF-8 document", ev: withRawDetail(t, base, `"maxSessionDuration"`, "\"doc\":\"\xc3\x28\",\"maxSessionDuration\""),
			outcome: "changed"},
		{name: "10,000-deep nesting", ev: withRawDetail(t, base, `"maxSessionDuration": 3600`, `"maxSessionDuration": `+deep),
			// encoding/json refuses more than 10,000 levels: the detail is
			// not an object the handler can read.
			outcome: "ignored", reason: "detail is not a JSON object"},
		{name: "unknown event name", ev: withDetail(func(d map[string]any) { d["eventName"] = "CreateRoleWithBackdoor" }),
			outcome: "ignored", reason: "does not change what the guardrail controls"},
		{name: "forged source", ev: func() events.CloudWatchEvent { e := base; e.Source = "custom.iam"; return e }(),
			outcome: "ignored", reason: "source"},
		{name: "forged eventSource", ev: withDetail(func(d map[string]any) { d["eventSource"] = "iam.amazonaws.com.evil.example" }),
			outcome: "ignored", reason: "eventSource"},
		{name: "forged detail-type", ev: func() events.CloudWatchEvent { e := base; e.DetailType = "Scheduled Event"; return e }(),
			outcome: "ignored", reason: "detail-type"},
		{name: "11-digit account ID", ev: withDetail(func(d map[string]any) { d["recipientAccountId"] = "11112222333" }),
			// The account only labels the record; the engine acts on the
			// account its credentials reach and evaluates the role there.
			outcome: "changed"},
		{name: "role name too long", ev: withDetail(func(d map[string]any) { req(d)["roleName"] = strings.Repeat("r", 65) }),
			outcome: "ignored", reason: "not a valid IAM role name"},
		{name: "errorCode of another type", ev: withDetail(func(d map[string]any) { d["errorCode"] = 403 }),
			// Only a readable error code proves the call failed; when
			// unsure, evaluating is the safe side.
			outcome: "changed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := checkHandled(t, tc.ev)
			if (err != nil) != tc.wantErr {
				t.Errorf("Handle error = %v, want error %v", err, tc.wantErr)
			}
			if d.Outcome != tc.outcome {
				t.Errorf("outcome %q (reason %q, error %q), want %q", d.Outcome, d.Reason, d.Error, tc.outcome)
			}
			if tc.reason != "" && !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("reason %q, want it to mention %q", d.Reason, tc.reason)
			}
		})
	}
}

// withRawDetail returns ev with the first occurrence of old in its detail's
// JSON text replaced by new, for inputs a map cannot express (invalid UTF-8,
// nesting deeper than encoding/json writes).
func withRawDetail(t *testing.T, ev events.CloudWatchEvent, old, new string) events.CloudWatchEvent {
	t.Helper()
	s := string(ev.Detail)
	if !strings.Contains(s, old) {
		t.Fatalf("detail lacks %q", old)
	}
	ev.Detail = json.RawMessage(strings.Replace(s, old, new, 1))
	return ev
}
