package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamguardrail/guardrail/lambdas/emulator"
	"github.com/iamguardrail/guardrail/lambdas/fixtures"
	"github.com/iamguardrail/guardrail/lambdas/replay"
	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/publish"
)

// eventBridge is a local EventBridge endpoint that records PutEvents
// calls: the AWS JSON 1.1 protocol the SDK speaks (X-Amz-Target
// AWSEvents.PutEvents), every entry accepted.
type eventBridge struct {
	*httptest.Server
	mu      sync.Mutex
	entries []map[string]any
}

func newEventBridge(t *testing.T) *eventBridge {
	eb := &eventBridge{}
	eb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
			http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
			return
		}
		var in struct{ Entries []map[string]any }
		if err := json.Unmarshal(body, &in); err != nil {
			http.Error(w, `{"__type":"ValidationException"}`, http.StatusBadRequest)
			return
		}
		eb.mu.Lock()
		var out []map[string]string
		for _, e := range in.Entries {
			eb.entries = append(eb.entries, e)
			out = append(out, map[string]string{"EventId": fmt.Sprintf("ev-%d", len(eb.entries))})
		}
		eb.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(map[string]any{"FailedEntryCount": 0, "Entries": out})
	}))
	t.Cleanup(eb.Close)
	return eb
}

func (eb *eventBridge) recorded() []map[string]any {
	eb.mu.Lock()
	defer eb.mu.Unlock()
	return append([]map[string]any(nil), eb.entries...)
}

// securityHub is a local Security Hub endpoint for BatchImportFindings
// (REST-JSON, POST /findings/import): it keeps every imported finding by
// ID, so an update replaces, and every import in order.
type securityHub struct {
	*httptest.Server
	mu      sync.Mutex
	byID    map[string]map[string]any
	imports []map[string]any
}

func newSecurityHub(t *testing.T) *securityHub {
	sh := &securityHub{byID: map[string]map[string]any{}}
	sh.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/findings/import" {
			http.Error(w, `{"Message":"not found"}`, http.StatusNotFound)
			return
		}
		var in struct{ Findings []map[string]any }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, `{"Message":"bad request"}`, http.StatusBadRequest)
			return
		}
		sh.mu.Lock()
		for _, f := range in.Findings {
			sh.byID[f["Id"].(string)] = f
			sh.imports = append(sh.imports, f)
		}
		sh.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"FailedCount": 0, "SuccessCount": len(in.Findings), "FailedFindings": []any{}})
	}))
	t.Cleanup(sh.Close)
	return sh
}

func (sh *securityHub) finding(id string) (map[string]any, int) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := 0
	for _, f := range sh.imports {
		if f["Id"] == id {
			n++
		}
	}
	return sh.byID[id], n
}

// startWith starts the enforcer bootstrap with extra environment.
func startWith(t *testing.T, mode config.Mode, extra ...string) *env {
	t.Helper()
	rieBin := rie(t)
	bin := buildBootstrap(t, "enforcer")
	srv, dep := sandbox.Start(t, mode)
	out := &output{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := emulator.Start(ctx, emulator.Options{
		RIE: rieBin, Bootstrap: bin, Name: "IamRoleGuardrail-enforcer",
		Env: append(dep.Environ(), extra...), Timeout: 60 * time.Second, Stdout: out, Stderr: out,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &env{srv: srv, dep: dep, fn: f, out: out, bin: bin}
}

// A changed decision puts exactly one event on the bus, whose detail is
// the record the function logged, field for field; a compliant decision
// (the same event delivered again) puts none.
func TestDecisionEvents(t *testing.T) {
	eb := newEventBridge(t)
	e := startWith(t, config.Enforce, "AWS_ENDPOINT_URL_EVENTBRIDGE="+eb.URL, publish.EnvEventBus+"=default")
	ev := fixtures.RequireEvent(t, "CreateRole-foreign-account.json")
	rec, err := e.happen(t, ev)
	if err != nil || rec["outcome"] != "changed" {
		t.Fatalf("outcome %v, %v", rec["outcome"], err)
	}
	entries := eb.recorded()
	if len(entries) != 1 {
		t.Fatalf("%d events for one changed decision: %v", len(entries), entries)
	}
	entry := entries[0]
	if entry["Source"] != publish.Source || entry["DetailType"] != publish.DetailType || entry["EventBusName"] != "default" {
		t.Errorf("envelope %v", entry)
	}
	if rs, _ := entry["Resources"].([]any); len(rs) != 1 || rs[0] != rec["role_arn"] {
		t.Errorf("resources %v, want the role", entry["Resources"])
	}
	var detail map[string]any
	if err := json.Unmarshal([]byte(entry["Detail"].(string)), &detail); err != nil {
		t.Fatalf("detail is not JSON: %v", err)
	}
	note := detail[publish.NotificationField].(map[string]any)
	delete(detail, publish.NotificationField)
	for _, k := range []string{"msg", "level", "timestamp"} {
		delete(rec, k)
	}
	a, _ := json.Marshal(detail)
	b, _ := json.Marshal(rec)
	if string(a) != string(b) {
		t.Errorf("event detail is not the logged record:\n%s\n%s", a, b)
	}
	if !strings.Contains(note["removed"].(string), "999988887777") || !strings.Contains(note["undo"].(string), "aws iam") {
		t.Errorf("notification %v", note)
	}

	// Delivered again, the role is now compliant: no event.
	again, err := e.deliver(t, ev)
	if err != nil || again["outcome"] != "compliant" {
		t.Fatalf("second delivery: %v, %v", again["outcome"], err)
	}
	if n := len(eb.recorded()); n != 1 {
		t.Errorf("%d events after a compliant decision, want still 1", n)
	}
}

// A failing bus never fails the evaluation: the record is written, the
// failure is a WARN line and a PublishFailures data point.
func TestDecisionEventsFailure(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"AccessDeniedException","message":"not authorized"}`)
	}))
	t.Cleanup(down.Close)
	e := startWith(t, config.Enforce, "AWS_ENDPOINT_URL_EVENTBRIDGE="+down.URL, publish.EnvEventBus+"=default")
	rec, err := e.happen(t, fixtures.RequireEvent(t, "CreateRole-foreign-account.json"))
	if err != nil || rec["outcome"] != "changed" {
		t.Fatalf("outcome %v, %v: a publishing failure must not fail the evaluation", rec["outcome"], err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !(strings.Contains(e.out.String(), `"msg":"publish failed"`) && strings.Contains(e.out.String(), `"PublishFailures":1`)) {
		if time.Now().After(deadline) {
			t.Fatalf("no publish-failure line and metric:\n%s", e.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With Security Hub on, a role in check mode gets an ACTIVE, FAILED trust
// finding; once its owner fixes the trust policy, the same finding (same
// ID, no second one) is PASSED and RESOLVED.
func TestSecurityHubFindings(t *testing.T) {
	sh := newSecurityHub(t)
	srvAccount := "111122223333" // the stand-in's account (sandbox)
	product := "arn:aws:securityhub:us-east-1:" + srvAccount + ":product/" + srvAccount + "/default"
	e := startWith(t, config.Check, "AWS_ENDPOINT_URL_SECURITYHUB="+sh.URL, publish.EnvSecurityHubProductARN+"="+product)
	if e.srv.Account() != srvAccount {
		t.Fatalf("stand-in account %s", e.srv.Account())
	}
	rec, err := e.happen(t, fixtures.RequireEvent(t, "CreateRole-foreign-account.json"))
	if err != nil || rec["outcome"] != "would-change" {
		t.Fatalf("outcome %v, %v", rec["outcome"], err)
	}
	id := publish.FindingID(rec["role_arn"].(string), "trust")
	f, n := sh.finding(id)
	if f == nil || n != 1 {
		t.Fatalf("finding %s: %v (%d imports)", id, f, n)
	}
	status := func(f map[string]any) (string, string, string) {
		return f["RecordState"].(string), f["Compliance"].(map[string]any)["Status"].(string), f["Workflow"].(map[string]any)["Status"].(string)
	}
	if s, c, w := status(f); s != "ACTIVE" || c != "FAILED" || w != "NEW" || f["ProductArn"] != product || f["AwsAccountId"] != srvAccount {
		t.Errorf("non-compliant finding: %s %s %s %v", s, c, w, f)
	}

	// The owner replaces the foreign account with the trusted one.
	fix := fixtures.RequireEvent(t, "UpdateAssumeRolePolicy-trusted-account.json")
	if _, err := replay.Apply(context.Background(), e.srv.Client(), fix); err != nil {
		t.Fatal(err)
	}
	rec, err = e.deliver(t, fix)
	if err != nil {
		t.Fatal(err)
	}
	f, n = sh.finding(id)
	if n != 2 {
		t.Fatalf("%d imports of %s, want 2 (one per evaluation)", n, id)
	}
	if s, c, w := status(f); c != "PASSED" || w != "RESOLVED" || s != "ARCHIVED" {
		t.Errorf("fixed finding: %s %s %s (record outcome %v)", s, c, w, rec["outcome"])
	}
	sh.mu.Lock()
	ids := len(sh.byID)
	sh.mu.Unlock()
	if ids != 2 { // one trust and one lockdown finding for the one role
		t.Errorf("%d distinct findings, want 2", ids)
	}
}
