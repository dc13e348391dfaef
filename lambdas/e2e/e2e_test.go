package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iamguardrail/guardrail/lambdas/emulator"
	"github.com/iamguardrail/guardrail/lambdas/fixtures"
	"github.com/iamguardrail/guardrail/lambdas/replay"
	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

// output collects the emulator's stdout and indexes the decision records.
type output struct{ emulator.Buffer }

// decisions returns the decision records written so far, in order.
func (o *output) decisions() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(o.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && (m["msg"] == "decision" || m["msg"] == "sweep summary") {
			out = append(out, m)
		}
	}
	return out
}

// after waits for a record beyond the first n (the emulator copies the
// function's output asynchronously, so it may trail the invoke response)
// and returns the newest one.
func (o *output) after(t *testing.T, n int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ds := o.decisions(); len(ds) > n {
			return ds[len(ds)-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new record on the emulator's stdout:\n%s", o.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wait waits for a record that match accepts and returns it.
func (o *output) wait(t *testing.T, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, d := range o.decisions() {
			if match(d) {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("record not found on the emulator's stdout:\n%s", o.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func rie(t *testing.T) string {
	t.Helper()
	return emulator.Require(t, testing.Short())
}

// buildBootstrap builds a function's bootstrap for this machine exactly as
// `make build` does for Lambda (same tags and flags, linux, no cgo).
func buildBootstrap(t *testing.T, fn string) string {
	t.Helper()
	root, err := fixtures.Root()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-tags", "lambda.norpc",
		"-ldflags=-s -w -buildid= -X main.version=e2e", "-o", out, "./lambdas/"+fn)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", fn, err, b)
	}
	return out
}

type env struct {
	srv *iamtest.Server
	dep sandbox.Deployment
	fn  *emulator.Function
	out *output
	bin string
}

func start(t *testing.T, fn string) *env {
	t.Helper()
	rieBin := rie(t)
	bin := buildBootstrap(t, fn)
	srv := iamtest.NewServer()
	t.Cleanup(srv.Close)
	dep, err := sandbox.Deploy(srv, config.Enforce)
	if err != nil {
		t.Fatal(err)
	}
	out := &output{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := emulator.Start(ctx, emulator.Options{
		RIE: rieBin, Bootstrap: bin, Name: "IamRoleGuardrail-" + fn,
		Env: dep.Environ(), Timeout: 60 * time.Second, Stdout: out, Stderr: out,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &env{srv: srv, dep: dep, fn: f, out: out, bin: bin}
}

func load(t *testing.T, name string) events.CloudWatchEvent {
	t.Helper()
	f, err := fixtures.Event(name)
	if err != nil {
		t.Fatal(err)
	}
	return f.Event
}

// deliver sends ev to the function as EventBridge would and returns the
// record the function logged and the function error, if any.
func (e *env) deliver(t *testing.T, ev events.CloudWatchEvent) (map[string]any, error) {
	t.Helper()
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n := len(e.out.decisions())
	_, err = e.fn.Invoke(ctx, body)
	var fe *emulator.FunctionError
	if err != nil && !errors.As(err, &fe) {
		t.Fatalf("invoke: %v", err)
	}
	return e.out.after(t, n), err
}

// happen makes the IAM call ev records, then delivers ev.
func (e *env) happen(t *testing.T, ev events.CloudWatchEvent) (map[string]any, error) {
	t.Helper()
	if _, err := replay.Apply(context.Background(), e.srv.Client(), ev); err != nil {
		t.Fatal(err)
	}
	return e.deliver(t, ev)
}

func (e *env) role(t *testing.T, name string) iamtest.RoleState {
	t.Helper()
	st, ok := e.srv.Role(name)
	if !ok {
		t.Fatalf("role %s does not exist", name)
	}
	return st
}

func (e *env) hasLockdown(st iamtest.RoleState) bool {
	for _, a := range st.AttachedPolicyARNs {
		if a == e.dep.LockdownPolicyARN {
			return true
		}
	}
	return false
}

// peakRSS returns the bootstrap process's peak resident set size in KiB
// (VmHWM), or 0 when it cannot be found.
func peakRSS(bin string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || string(bytes.SplitN(cmdline, []byte{0}, 2)[0]) != bin {
			continue
		}
		status, _ := os.ReadFile(filepath.Join(d, "status"))
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				n, _ := strconv.Atoi(strings.Fields(l)[1])
				return n
			}
		}
	}
	return 0
}

// TestEnforcer runs the enforcer bootstrap under the emulator through the
// event kinds of events/, a duplicate delivery and out-of-order deliveries,
// and checks the account after each.
func TestEnforcer(t *testing.T) {
	e := start(t, "enforcer")
	if _, err := e.srv.SeedRole(sandbox.ExistingRoles[0]); err != nil { // legacy-batch
		t.Fatal(err)
	}

	// 1. CreateRole trusting a foreign account: the principal is stripped,
	// older sessions are revoked, the lockdown is attached. The first
	// invocation also starts the function (Lambda's init).
	d, err := e.happen(t, load(t, "CreateRole-foreign-account.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("emulator start to first response: %v", time.Since(e.fn.Started).Round(time.Millisecond))
	st := e.role(t, "partner-reporting")
	if strings.Contains(st.TrustPolicy, "999988887777") || !strings.Contains(st.TrustPolicy, "ec2.amazonaws.com") {
		t.Errorf("partner-reporting trust after the fix: %s", st.TrustPolicy)
	}
	if !e.hasLockdown(st) {
		t.Errorf("partner-reporting: lockdown not attached: %v", st.AttachedPolicyARNs)
	}
	if _, ok := st.InlinePolicies["GuardrailRevokeOlderSessions"]; !ok {
		t.Errorf("partner-reporting: older sessions not revoked: %v", st.InlinePolicies)
	}
	if d["outcome"] != "changed" || d["actor"] != "arn:aws:iam::111122223333:user/alice" || d["delivery_lag_ms"] == nil {
		t.Errorf("decision: %v", d)
	}

	// 2. The same event delivered again: nothing is written.
	writes := e.srv.WriteCalls()
	d, err = e.deliver(t, load(t, "CreateRole-foreign-account.json"))
	if err != nil {
		t.Fatal(err)
	}
	if n := e.srv.WriteCalls() - writes; n != 0 {
		t.Errorf("duplicate delivery made %d writes", n)
	}
	if d["outcome"] != "compliant" {
		t.Errorf("duplicate delivery: outcome %v", d["outcome"])
	}

	// 3. A Lambda execution role: trust kept as is, lockdown attached. Then
	// an attach on the now compliant role: two reads, no write.
	if _, err := e.happen(t, load(t, "CreateRole-lambda-execution-role.json")); err != nil {
		t.Fatal(err)
	}
	st = e.role(t, "orders-api-lambda")
	if !e.hasLockdown(st) || !strings.Contains(st.TrustPolicy, "lambda.amazonaws.com") {
		t.Errorf("orders-api-lambda: %+v", st)
	}
	attach := load(t, "AttachRolePolicy-basic-execution.json")
	if _, err := replay.Apply(context.Background(), e.srv.Client(), attach); err != nil {
		t.Fatal(err)
	}
	e.srv.ResetCalls()
	t0 := time.Now()
	if _, err := e.deliver(t, attach); err != nil {
		t.Fatal(err)
	}
	t.Logf("invocation for a compliant role: %v, %d IAM calls", time.Since(t0).Round(100*time.Microsecond), len(e.srv.CallLog()))
	if e.srv.WriteCalls() != 0 || len(e.srv.CallLog()) != 2 {
		t.Errorf("compliant role: %d writes, %d calls", e.srv.WriteCalls(), len(e.srv.CallLog()))
	}

	// 4. Principal "*": replaced by the guardrail's deny-all statement.
	if _, err := e.happen(t, load(t, "UpdateAssumeRolePolicy-principal-star.json")); err != nil {
		t.Fatal(err)
	}
	if st := e.role(t, "legacy-batch"); !strings.Contains(st.TrustPolicy, "GuardrailNoTrustedPrincipals") || !e.hasLockdown(st) {
		t.Errorf("legacy-batch: %s %v", st.TrustPolicy, st.AttachedPolicyARNs)
	}

	// 5. Someone detaches the lockdown: it is attached again.
	if _, err := e.happen(t, load(t, "DetachRolePolicy-lockdown.json")); err != nil {
		t.Fatal(err)
	}
	if st := e.role(t, "orders-api-lambda"); !e.hasLockdown(st) {
		t.Errorf("lockdown not re-attached: %v", st.AttachedPolicyARNs)
	}

	// 6. GitHub OIDC without a subject condition: stripped.
	if _, err := e.happen(t, load(t, "CreateRole-github-oidc-no-subject.json")); err != nil {
		t.Fatal(err)
	}
	if st := e.role(t, "github-deploy"); strings.Contains(st.TrustPolicy, "oidc-provider") {
		t.Errorf("github-deploy still trusts the OIDC provider: %s", st.TrustPolicy)
	}

	// 7. Events the guardrail must ignore: acknowledged, nothing written.
	writes = e.srv.WriteCalls()
	for _, name := range []string{"ignored-forged-source.json", "ignored-guardrail-own-change.json", "ignored-TagRole.json", "CreateServiceLinkedRole-ecs.json"} {
		d, err := e.deliver(t, load(t, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if d["outcome"] != "ignored" || d["reason"] == nil {
			t.Errorf("%s: %v", name, d)
		}
	}
	if n := e.srv.WriteCalls() - writes; n != 0 {
		t.Errorf("ignored events caused %d writes", n)
	}

	// 8. Two events for one role, delivered newest first. The role was
	// created compliant, then someone added a foreign account; EventBridge
	// delivers the update before the creation. The update's delivery
	// strips the foreign account; the creation, arriving last, claims a
	// document the role has again (the fix restored it), so nothing is
	// written.
	create := load(t, "CreateRole-lambda-execution-role.json")
	create = withRole(t, create, "orders-worker")
	update := withRole(t, load(t, "UpdateAssumeRolePolicy-trusted-account.json"), "orders-worker")
	update = withDetail(t, update, "requestParameters", map[string]string{"roleName": "orders-worker",
		"policyDocument": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`})
	for _, ev := range []events.CloudWatchEvent{create, update} {
		if _, err := replay.Apply(context.Background(), e.srv.Client(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.deliver(t, update); err != nil {
		t.Fatal(err)
	}
	writes = e.srv.WriteCalls()
	d, err = e.deliver(t, create)
	if err != nil {
		t.Fatal(err)
	}
	st = e.role(t, "orders-worker")
	if strings.Contains(st.TrustPolicy, "999988887777") || !strings.Contains(st.TrustPolicy, "lambda.amazonaws.com") || !e.hasLockdown(st) {
		t.Errorf("orders-worker after out-of-order delivery: %s %v", st.TrustPolicy, st.AttachedPolicyARNs)
	}
	if e.srv.WriteCalls() != writes || d["outcome"] != "compliant" {
		t.Errorf("late creation event: %d writes, decision %v", e.srv.WriteCalls()-writes, d)
	}

	// 9. The reverse: a role first trusts a foreign account, then is fixed
	// by its owner; the older (foreign) event arrives last. The read never
	// shows the claimed document, which would be non-compliant, so the
	// engine cannot tell a superseded event from a stale read: it writes
	// nothing and fails the invocation as transient, for Lambda to retry
	// and the failure queue to keep (DESIGN.md §2).
	older := withRole(t, load(t, "CreateRole-foreign-account.json"), "reports-reader")
	newer := withRole(t, load(t, "UpdateAssumeRolePolicy-trusted-account.json"), "reports-reader")
	for _, ev := range []events.CloudWatchEvent{older, newer} {
		if _, err := replay.Apply(context.Background(), e.srv.Client(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.deliver(t, newer); err != nil {
		t.Fatal(err)
	}
	writes = e.srv.WriteCalls()
	d, err = e.deliver(t, older)
	var fe *emulator.FunctionError
	if !errors.As(err, &fe) || !strings.Contains(fe.Message, "transient") {
		t.Errorf("superseded non-compliant event: %v, want a transient function error", err)
	}
	if e.srv.WriteCalls() != writes || d["outcome"] != "error" || d["read_consistent"] != false {
		t.Errorf("stale-looking read: %d writes, decision %v", e.srv.WriteCalls()-writes, d)
	}
	if st := e.role(t, "reports-reader"); !strings.Contains(st.TrustPolicy, "444455556666") {
		t.Errorf("reports-reader: %s", st.TrustPolicy)
	}

	if kb := peakRSS(e.bin); kb > 0 {
		t.Logf("enforcer bootstrap peak RSS: %d KiB", kb)
	}
}

// withRole returns ev about another role, with its own event ID.
func withRole(t *testing.T, ev events.CloudWatchEvent, role string) events.CloudWatchEvent {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		t.Fatal(err)
	}
	h := fnv.New64a()
	h.Write([]byte(role))
	d["eventID"] = d["eventID"].(string)[:24] + fmt.Sprintf("%012x", h.Sum64()&0xffffffffffff)
	if rp, ok := d["requestParameters"].(map[string]any); ok {
		rp["roleName"] = role
	}
	if re, ok := d["responseElements"].(map[string]any); ok {
		if r, ok := re["role"].(map[string]any); ok {
			r["roleName"] = role
			r["arn"] = "arn:aws:iam::111122223333:role/" + role
		}
	}
	ev.Detail, _ = json.Marshal(d)
	return ev
}

func withDetail(t *testing.T, ev events.CloudWatchEvent, key string, v any) events.CloudWatchEvent {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		t.Fatal(err)
	}
	d[key] = v
	ev.Detail, _ = json.Marshal(d)
	return ev
}

// TestSweeper runs the sweeper bootstrap under the emulator on an account
// with roles that predate the guardrail.
func TestSweeper(t *testing.T) {
	e := start(t, "sweeper")
	if err := sandbox.SeedExisting(e.srv); err != nil {
		t.Fatal(err)
	}
	schedule := events.CloudWatchEvent{Version: "0", ID: "sweep-1", DetailType: "Scheduled Event", Source: "aws.events",
		AccountID: sandbox.Account, Time: time.Now().UTC(), Region: "us-east-1",
		Resources: []string{"arn:aws:events:us-east-1:111122223333:rule/IamRoleGuardrail-Sweep"}, Detail: json.RawMessage(`{}`)}
	if _, err := e.deliver(t, schedule); err != nil {
		t.Fatal(err)
	}
	sum := e.out.wait(t, func(m map[string]any) bool { return m["msg"] == "sweep summary" })
	if st := e.role(t, "vendor-monitoring"); strings.Contains(st.TrustPolicy, "754728514883") || !e.hasLockdown(st) {
		t.Errorf("vendor-monitoring after the sweep: %s %v", st.TrustPolicy, st.AttachedPolicyARNs)
	}
	if st := e.role(t, "breakglass-admin"); e.hasLockdown(st) {
		t.Error("exempt role was changed")
	}
	if sum["msg"] != "sweep summary" || sum["listed"] != float64(5) || sum["errors"] != float64(0) || sum["left"] != float64(0) {
		t.Errorf("summary: %v", sum)
	}
}
