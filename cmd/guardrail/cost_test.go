package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/lambdas/emulator"
	"github.com/iamguardrail/guardrail/pkg/decision"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the README's cost section from `guardrail cost`")

var totalLine = regexp.MustCompile(`^total: \$(\d+\.\d\d) per account-month \((\d+) metric series\)$`)

func TestCostCommand(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings
		stderr   string
		seriesOK bool
	}{
		{"defaults", nil, 0, []string{"Workload: 1,000 role events a day, 50% of them re-checked; a sweep of 400 roles 1 time(s) a day", "mode enforce", "CloudWatch custom metrics", "KMS key", "AWS Config",
			"SQS re-check requests", "15,208 re-checks × 3 requests", "SQS re-check queue polling"}, "", true},
		{"no re-checks", []string{"--recheck-share", "0"}, 0, []string{"0% of them re-checked", "30,417 events + 0 re-checks + 30 sweeps"}, "", true},
		{"re-check share above 1", []string{"--recheck-share", "1.2"}, 2, nil, "must be between 0 and 1", false},
		{"busy check-mode account", []string{"--events-per-day", "20000", "--roles", "3000", "--mode", "check"}, 0, []string{"20,000 role events a day", "3000 roles", "mode check"}, "", true},
		{"other region", []string{"--region", "eu-west-1"}, 2, nil, "deploys to us-east-1 only", false},
		{"bad mode", []string{"--mode", "audit"}, 2, nil, `mode "audit"`, false},
		{"negative events", []string{"--events-per-day", "-1"}, 2, nil, "must be a number ≥ 0", false},
		{"stray argument", []string{"x"}, 2, nil, "unexpected argument", false},
		{"missing demo output", []string{"--measured", "/nonexistent"}, 2, nil, "make demo", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), append([]string{"cost"}, tc.args...), &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			if tc.code != 0 {
				return
			}
			lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
			m := totalLine.FindStringSubmatch(lines[len(lines)-1])
			if m == nil {
				t.Fatalf("last line %q is not the total line", lines[len(lines)-1])
			}
			if tc.seriesOK && m[2] != "6" {
				t.Errorf("%s metric series; pkg/decision declares two counters, the delivery lag, the error records, the publish failures and the completed sweeps", m[2])
			}
		})
	}
}

// The series count printed is the one the code emits: one per metric that
// pkg/decision declares (no metric has a dimension), so adding a metric or
// a dimension to the emitter changes the printed count and this test's
// expectation with it.
func TestCostSeriesFromEmitter(t *testing.T) {
	want := 0
	for _, m := range decision.Metrics() {
		n := 1
		for _, d := range m.Dimensions {
			v, _ := decision.DimensionValues(d)
			n *= v
		}
		want += n
	}
	var stdout bytes.Buffer
	if code := run(context.Background(), []string{"cost"}, &stdout, io.Discard); code != 0 {
		t.Fatal("cost failed")
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	m := totalLine.FindStringSubmatch(lines[len(lines)-1])
	if m == nil || m[2] != strconv.Itoa(want) {
		t.Errorf("total line %q, want %d series", lines[len(lines)-1], want)
	}
}

func TestSweepsPerDay(t *testing.T) {
	tests := []struct {
		expr string
		want float64
		err  bool
	}{
		{"rate(1 day)", 1, false},
		{"rate(12 hours)", 2, false},
		{"rate(1 hour)", 24, false},
		{"rate(30 minutes)", 48, false},
		{"rate(2 days)", 0.5, false},
		{"cron(0 3 * * ? *)", 0, true},
		{"rate(0 days)", 0, true},
	}
	for _, tc := range tests {
		got, err := sweepsPerDay(tc.expr)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("sweepsPerDay(%q) = %v, %v; want %v, error %v", tc.expr, got, err, tc.want, tc.err)
		}
	}
}

// A demo log as the emulator writes it: its own lines, the function's JSON
// lines, the first REPORT including the lazily run init phase.
const sampleLog = `03 Dec 2026 17:07:36,923 [INFO] (rapid) INIT START(type: on-demand, phase: init)
START RequestId: a Version: $LATEST
{"level":"INFO","msg":"configuration","config":{}}
03 Dec 2026 17:07:36,971 [INFO] (rapid) INIT REPORT(durationMs: 40.000000)
{"level":"INFO","msg":"decision","role_arn":"arn:aws:iam::111122223333:role/a"}
{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]},"role_arn":"arn:aws:iam::111122223333:role/a","RolesNonCompliant":1}
END RequestId: a
REPORT RequestId: a	Init Duration: 0.04 ms	Duration: 50.00 ms	Billed Duration: 51 ms	Memory Size: 3008 MB	Max Memory Used: 3008 MB	
START RequestId: b Version: $LATEST
{"level":"INFO","msg":"sweep summary","listed":3}
END RequestId: b
REPORT RequestId: b	Duration: 6.50 ms	Billed Duration: 7 ms	Memory Size: 3008 MB	Max Memory Used: 3008 MB	
`

func TestReadDemoLog(t *testing.T) {
	l, err := readDemoLog(strings.NewReader(sampleLog))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(sampleLog, "\n")
	size := func(i int) int { return len(lines[i]) + 1 }
	if l.invocations != 2 || l.decisions != 1 || l.emfLines != 1 || l.summaries != 1 || l.listed != 3 {
		t.Errorf("counts %+v", l)
	}
	if len(l.durationsMS) != 2 || l.durationsMS[0] != 10 || l.durationsMS[1] != 6.5 || len(l.initsMS) != 1 || l.initsMS[0] != 40 {
		t.Errorf("durations %v inits %v (the first REPORT minus the init phase)", l.durationsMS, l.initsMS)
	}
	if want := size(2) + size(4) + size(5) + size(9); l.jsonBytes != want {
		t.Errorf("json bytes %d, want %d", l.jsonBytes, want)
	}
	if l.recordBytes != size(4) || l.emfRecBytes != size(5) {
		t.Errorf("record bytes %d, EMF %d", l.recordBytes, l.emfRecBytes)
	}
	if want := size(1) + size(6) + size(7) + size(8) + size(10) + size(11); l.textBytes != want {
		t.Errorf("text bytes %d, want %d", l.textBytes, want)
	}
	if _, err := readDemoLog(strings.NewReader("{not json\n")); err == nil {
		t.Error("malformed JSON line accepted")
	}
	if _, err := readDemoLog(strings.NewReader("REPORT RequestId: x\tDuration: ?\n")); err == nil {
		t.Error("malformed REPORT line accepted")
	}
}

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, tc := range []struct{ p, want float64 }{{50, 5}, {99, 10}, {10, 1}, {100, 10}} {
		if got := percentile(xs, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing")
	}
}

// The README's cost section is the output of `guardrail cost` with its
// defaults; `go test ./cmd/guardrail -run TestREADMECost -update-readme`
// rewrites it after a change.
func TestREADMECost(t *testing.T) {
	const begin, end = "<!-- BEGIN guardrail cost: generated by `go test ./cmd/guardrail -run TestREADMECost -update-readme` -->\n", "<!-- END guardrail cost -->"
	path := filepath.Join("..", "..", "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(readme, []byte(begin)), bytes.Index(readme, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("README.md has no cost section between %q and %q", begin, end)
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"cost"}, &out, io.Discard); code != 0 {
		t.Fatal("guardrail cost failed")
	}
	want := begin + "```\n$ go run ./cmd/guardrail cost\n" + out.String() + "```\n"
	got := string(readme[i:j])
	if got == want {
		return
	}
	if *updateREADME {
		fixed := string(readme[:i]) + want + string(readme[j:])
		if err := os.WriteFile(path, []byte(fixed), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's cost section is not the output of `guardrail cost`; run go test ./cmd/guardrail -run TestREADMECost -update-readme\n got:\n%s\nwant:\n%s", got, want)
}

// BenchmarkDemoInvocations runs the whole demo (the real bootstraps under
// the Runtime Interface Emulator, the events of events/, one sweep) b.N
// times and reports what the cost estimate takes from it: the enforcer's
// invocation durations (p50, p99, init excluded), the longest cold start,
// the sweep's duration per role, the bytes each function writes per event,
// per sweep record and per sweep, and records per listed role. These are
// the figures of cost.DefaultMeasured:
//
//	go test ./cmd/guardrail -run '^$' -bench DemoInvocations -benchtime 30x
func BenchmarkDemoInvocations(b *testing.B) {
	rie := emulator.Require(b, testing.Short())
	dir := b.TempDir()
	// The release flags of the Makefile's build, for this machine.
	bins := buildBootstraps(b, dir, "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=")
	var all demoMeasurement
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := filepath.Join(dir, "out", strconv.Itoa(i+1))
		var stderr bytes.Buffer
		if code := runDemo(context.Background(), demoArgs(rie, bins["enforcer"], bins["sweeper"], out), io.Discard, &stderr); code != 0 {
			b.Fatalf("demo exit %d: %s", code, stderr.String())
		}
		m, err := readDemoDir(out)
		if err != nil {
			b.Fatal(err)
		}
		all.enforcer.add(m.enforcer)
		all.sweeper.add(m.sweeper)
	}
	b.StopTimer()
	m := all.measured("")
	b.ReportMetric(m.EnforcerP50MS, "enforcer-p50-ms")
	b.ReportMetric(m.EnforcerP99MS, "enforcer-p99-ms")
	b.ReportMetric(m.InitMS, "init-max-ms")
	b.ReportMetric(m.SweepMSPerRole, "sweep-ms/role")
	b.ReportMetric(m.EnforcerBytesPerEvent, "enforcer-B/event")
	b.ReportMetric(m.SweepBytesPerRecord, "sweep-B/record")
	b.ReportMetric(m.SweepBytesPerSweep, "sweep-B/sweep")
	b.ReportMetric(m.RecordsPerRole, "records/role")
	b.ReportMetric(m.PlatformBytesPerInvocation, "platform-B/invocation")
	b.ReportMetric(float64(len(all.enforcer.durationsMS)), "enforcer-samples")
}
