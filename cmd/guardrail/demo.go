package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iamguardrail/guardrail/lambdas/emulator"
	"github.com/iamguardrail/guardrail/lambdas/fixtures"
	"github.com/iamguardrail/guardrail/lambdas/replay"
	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

// runDemo shows the whole guardrail on a laptop: the local IAM endpoint with
// a sandbox account, the enforcer bootstrap under the Runtime Interface
// Emulator receiving every event of events/ right after its IAM call, then
// the sweeper bootstrap sweeping the account. It prints a summary table and
// writes the full decision records to <out>/decisions.jsonl. `make demo`
// builds the bootstraps and runs it.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", stderr)
	eventsDir := fs.String("events", "events", "directory of EventBridge events to deliver")
	return runDemoCommand(ctx, fs, args, ".demo", stdout, stderr, func(d *demo, enforcer, sweeper string) error {
		return d.run(ctx, enforcer, sweeper, *eventsDir)
	})
}

// runDemoCommand is what `demo` and `demo-org` share: the flags naming the
// emulator, the bootstraps and the output directory (fs may hold more),
// their checks, and the report of run's error.
func runDemoCommand(ctx context.Context, fs *flag.FlagSet, args []string, out string, stdout, stderr io.Writer,
	run func(d *demo, enforcer, sweeper string) error) int {
	name := fs.Name()
	rie := fs.String("rie", "", "aws-lambda-rie executable (default $GUARDRAIL_RIE or $PATH)")
	enforcer := fs.String("enforcer", "", "enforcer bootstrap built for this machine (required)")
	sweeper := fs.String("sweeper", "", "sweeper bootstrap built for this machine (required)")
	outDir := fs.String("out", out, "directory for the decision records and function logs")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *enforcer == "" || *sweeper == "" {
		fmt.Fprintf(stderr, "%s: --enforcer and --sweeper are required (make %s builds them)\n", name, name)
		return 2
	}
	if *rie == "" {
		p, err := emulator.Find()
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 2
		}
		*rie = p
	}
	d := &demo{rie: *rie, out: *outDir, stdout: stdout}
	if err := run(d, *enforcer, *sweeper); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "%s: interrupted; processes stopped\n", name)
			return 1
		}
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

type demo struct {
	rie, out string
	stdout   io.Writer
	records  *recordLog
	timeout  time.Duration // function timeout; 60 s (the enforcer's) when zero
}

// openRecords creates the output directory and <out>/decisions.jsonl, where
// the records go; the caller closes the file.
func (d *demo) openRecords() (*os.File, error) {
	if err := os.MkdirAll(d.out, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", d.out, err)
	}
	jsonl, err := os.Create(filepath.Join(d.out, "decisions.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("create decision log: %w", err)
	}
	d.records = &recordLog{jsonl: jsonl}
	return jsonl, nil
}

func (d *demo) run(ctx context.Context, enforcerBin, sweeperBin, eventsDir string) error {
	start := time.Now()
	jsonl, err := d.openRecords()
	if err != nil {
		return err
	}
	defer jsonl.Close()

	srv := iamtest.NewServer()
	defer srv.Close()
	dep, err := sandbox.Deploy(srv, config.Enforce)
	if err != nil {
		return err
	}
	if err := sandbox.SeedExisting(srv); err != nil {
		return err
	}
	fmt.Fprintf(d.stdout, "Local IAM endpoint %s, account %s (trusts account %s and organization %s)\n",
		srv.URL, srv.Account(), sandbox.TrustedAccount, sandbox.TrustedOrgID)
	fmt.Fprintf(d.stdout, "Lockdown policy %s\n\n", dep.LockdownPolicyARN)

	files, err := fixtures.Dir(eventsDir)
	if err != nil {
		return err
	}
	sort.SliceStable(files, func(i, j int) bool { return eventTime(files[i]).Before(eventTime(files[j])) })

	enf, err := d.start(ctx, "enforcer", enforcerBin, dep)
	if err != nil {
		return err
	}
	defer enf.Close()
	fmt.Fprintf(d.stdout, "Enforcer: each IAM call below is made, then its CloudTrail event delivered to the enforcer (%s)\n", enf.URL)
	tw := tabwriter.NewWriter(d.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tROLE\tCLASS\tOUTCOME\tREMOVED / REASON\tLOCKDOWN\tMS")
	client := srv.Client()
	var idps []string
	for _, f := range files {
		ev := now(f.Event)
		if _, err := replay.Apply(ctx, client, ev); err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		rec, err := d.invoke(ctx, enf, ev, func(m map[string]any) bool { return m["msg"] == "decision" })
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		row(tw, strings.TrimSuffix(f.Name, ".json"), rec)
		idps = append(idps, federatedReasons(strings.TrimSuffix(f.Name, ".json"), rec)...)
	}
	tw.Flush()
	if len(idps) > 0 {
		fmt.Fprintf(d.stdout, "\nIdentity providers: why each was kept or removed\n%s\n", strings.Join(idps, "\n"))
	}
	enf.Close()

	swp, err := d.start(ctx, "sweeper", sweeperBin, dep)
	if err != nil {
		return err
	}
	defer swp.Close()
	fmt.Fprintf(d.stdout, "\nSweeper: one scheduled run over every role of the account (%s)\n", swp.URL)
	n := d.records.count()
	schedule := events.CloudWatchEvent{Version: "0", ID: "demo-sweep", DetailType: "Scheduled Event", Source: "aws.events",
		AccountID: srv.Account(), Time: time.Now().UTC(), Region: "us-east-1",
		Resources: []string{"arn:aws:events:us-east-1:" + srv.Account() + ":rule/" + sandbox.NamePrefix + "-Sweep"}, Detail: json.RawMessage(`{}`)}
	sum, err := d.invoke(ctx, swp, schedule, func(m map[string]any) bool { return m["msg"] == "sweep summary" })
	if err != nil {
		return err
	}
	tw = tabwriter.NewWriter(d.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tCLASS\tOUTCOME\tREMOVED / REASON\tLOCKDOWN")
	for _, rec := range d.records.since(n) {
		if rec["msg"] == "decision" {
			subject := str(rec["role_name"])
			if subject == "" { // the lockdown policy's own record
				subject = "(policy) " + path.Base(str(rec["policy_arn"]))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", subject, dash(rec["class"]), str(rec["outcome"]), removed(rec), dash(rec["lockdown"]))
		}
	}
	tw.Flush()
	fmt.Fprintf(d.stdout, "Sweep: %v roles listed, %v changed, %v compliant, %v skipped, %v errors, %v left, %v IAM calls\n",
		sum["listed"], sum["changed"], sum["compliant"], sum["skipped"], sum["errors"], sum["left"], sum["api_calls"])

	fmt.Fprintf(d.stdout, "\nFull JSON decision records: %s (one per line; e.g. jq 'select(.outcome==\"changed\")' %[1]s)\n", jsonl.Name())
	fmt.Fprintf(d.stdout, "Function logs: %s, %s\n", filepath.Join(d.out, "enforcer.log"), filepath.Join(d.out, "sweeper.log"))
	fmt.Fprintf(d.stdout, "Demo finished in %v\n", time.Since(start).Round(10*time.Millisecond))
	return nil
}

// start runs one bootstrap under the emulator, its output going to
// <out>/<name>.log and its records to the record log.
func (d *demo) start(ctx context.Context, name, bin string, dep sandbox.Deployment) (*emulator.Function, error) {
	return d.startEnv(ctx, name, bin, dep.Environ())
}

// startEnv is start with the function's environment given.
func (d *demo) startEnv(ctx context.Context, name, bin string, env []string) (*emulator.Function, error) {
	logf, err := os.Create(filepath.Join(d.out, name+".log"))
	if err != nil {
		return nil, fmt.Errorf("create %s log: %w", name, err)
	}
	// The file stays open until the process exits; the emulator's writer
	// goroutines may still flush into it while Close runs.
	w := &lineSplitter{next: func(line []byte) {
		logf.Write(line)
		d.records.add(line)
	}}
	return emulator.Start(ctx, emulator.Options{
		RIE: d.rie, Bootstrap: bin, Name: sandbox.NamePrefix + "-" + name,
		Env: env, Timeout: cmp.Or(d.timeout, 60*time.Second), Stdout: w, Stderr: w,
	})
}

// invoke delivers ev and waits for the record match accepts among the new
// ones: the emulator copies the function's output asynchronously.
func (d *demo) invoke(ctx context.Context, fn *emulator.Function, ev events.CloudWatchEvent, match func(map[string]any) bool) (map[string]any, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	n := d.records.count()
	_, ierr := fn.Invoke(ctx, body)
	var fe *emulator.FunctionError
	if ierr != nil && !errors.As(ierr, &fe) {
		return nil, ierr
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, rec := range d.records.since(n) {
			if match(rec) {
				if fe != nil {
					rec["function_error"] = fe.Message
				}
				return rec, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no record from the function within 10s (invoke error: %v)", ierr)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func row(w io.Writer, name string, rec map[string]any) {
	detail := removed(rec)
	if r, ok := rec["reason"].(string); ok {
		detail = r
	}
	if fe, ok := rec["function_error"].(string); ok {
		detail = "function error (Lambda retries): " + fe
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%v\n", name, dash(rec["role_name"]), dash(rec["class"]), str(rec["outcome"]),
		detail, dash(rec["lockdown"]), rec["duration_ms"])
}

// federatedReasons returns, for an event's record, the verdict and reason
// of each identity provider an Allow statement names: why a tenant of a
// shared OIDC issuer was kept or removed is not visible from the principal
// alone.
func federatedReasons(name string, rec map[string]any) []string {
	var out []string
	ps, _ := rec["principals"].([]any)
	for _, p := range ps {
		m, _ := p.(map[string]any)
		if m["type"] != "Federated" || m["effect"] != "Allow" {
			continue
		}
		verdict := "removed"
		if m["trusted"] == true {
			verdict = "kept"
		}
		sid := ""
		if s := str(m["sid"]); s != "" {
			sid = " " + s
		}
		out = append(out, fmt.Sprintf("  %s: %s%s: %s", name, verdict, sid, str(m["reason"])))
	}
	return out
}

// removed lists the principals a record removed, and the session revocation.
func removed(rec map[string]any) string {
	var out []string
	fs, _ := rec["findings"].([]any)
	for _, f := range fs {
		m, _ := f.(map[string]any)
		if m["removed"] == true {
			out = append(out, str(m["principal"]))
		}
	}
	if rec["revoked_sessions_before"] != nil {
		out = append(out, "(older sessions revoked)")
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, " ")
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func dash(v any) string {
	if s := str(v); s != "" {
		return s
	}
	return "-"
}

// now moves an event to the present, as if the call had just happened, so
// delivery_lag_ms shows the local pipeline's lag rather than the fixture's age.
func now(ev events.CloudWatchEvent) events.CloudWatchEvent {
	t := time.Now().UTC().Truncate(time.Second)
	ev.Time = t
	var d map[string]json.RawMessage
	if json.Unmarshal(ev.Detail, &d) == nil && d != nil {
		d["eventTime"], _ = json.Marshal(t.Format(time.RFC3339))
		ev.Detail, _ = json.Marshal(d)
	}
	return ev
}

func eventTime(f fixtures.File) time.Time {
	var d struct {
		EventTime time.Time `json:"eventTime"`
	}
	if json.Unmarshal(f.Event.Detail, &d) == nil && !d.EventTime.IsZero() {
		return d.EventTime
	}
	return f.Event.Time
}

// recordLog keeps the JSON records the functions log (decisions and sweep
// summaries) and appends them to the decisions file.
type recordLog struct {
	mu    sync.Mutex
	recs  []map[string]any
	jsonl io.Writer
}

func (l *recordLog) add(line []byte) {
	var m map[string]any
	if json.Unmarshal(line, &m) != nil || (m["msg"] != "decision" && m["msg"] != "sweep summary" && m["msg"] != "sweep account summary") {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, m)
	l.jsonl.Write(line)
}

func (l *recordLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recs)
}

func (l *recordLog) since(n int) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]map[string]any(nil), l.recs[n:]...)
}

// lineSplitter hands complete lines (with their newline) to next.
type lineSplitter struct {
	mu   sync.Mutex
	buf  []byte
	next func([]byte)
}

func (s *lineSplitter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := append([]byte(nil), s.buf[:i+1]...)
		s.buf = s.buf[i+1:]
		s.next(line)
	}
}
