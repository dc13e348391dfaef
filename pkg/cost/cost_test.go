package cost_test

import (
	"math"
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/pkg/cost"
	"github.com/iamguardrail/guardrail/pkg/decision"
)

const days = cost.HoursPerMonth / 24 // 30.416…

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

var work = cost.Workload{EventsPerDay: 1000, Roles: 400, SweepsPerDay: 1, Mode: "enforce", RetentionDays: 365}

// rechecked is work with 40 % of its events setting a trust policy.
var rechecked = cost.Workload{EventsPerDay: 1000, RecheckShare: 0.4, Roles: 400, SweepsPerDay: 1, Mode: "enforce", RetentionDays: 365}

var meas = cost.Measured{
	EnforcerBytesPerEvent: 2000, SweepBytesPerRecord: 1500, SweepBytesPerSweep: 1000, PlatformBytesPerInvocation: 500,
	EnforcerP50MS: 5, EnforcerP99MS: 60, SweepMSPerRole: 3, InitMS: 400, RecordsPerRole: 1, Source: "test",
}

var stack = cost.Stack{EnforcerMemoryMB: 128, SweeperMemoryMB: 256, Alarms: 7, Keys: 1,
	Series: []cost.Series{{"A", 1, cost.EveryRecord}, {"B", 1, cost.EveryRecord}, {"E", 1, cost.OnError}}}

func TestLineItems(t *testing.T) {
	quiet := cost.Workload{EventsPerDay: 1, Roles: 10, SweepsPerDay: 1, Mode: "check", RetentionDays: 30}
	logBytes := 1000*(2000+500) + 1*(400*1500+1000+500.0)
	tests := []struct {
		name  string
		line  cost.Line
		usd   float64
		grows bool
	}{
		{"requests", cost.LambdaRequests(work), 1001 * days / 1e6 * 0.20, true},
		{"requests, quiet", cost.LambdaRequests(quiet), 2 * days / 1e6 * 0.20, true},
		{"compute", cost.LambdaCompute(work, meas, stack),
			(1000*days*(60+400)/1000*128/1024 + days*(400*3+400)/1000*256/1024) * 0.0000133334, true},
		{"logs ingestion", cost.LogsIngestion(work, meas), logBytes * days / 1e9 * 0.50, true},
		{"logs storage", cost.LogsStorage(work, meas), logBytes * 365 / 1e9 * 0.03, true},
		{"logs storage, 30 days", cost.LogsStorage(quiet, meas), (1*2500 + 10*1500 + 1500.0) * 30 / 1e9 * 0.03, true},
		{"metrics, busy: every hour", cost.Metrics(work, stack.Series), 2 * 0.30, true},
		{"metrics, quiet: an hour per event or sweep", cost.Metrics(quiet, stack.Series), 2 * (2 * days / 730) * 0.30, true},
		{"metrics, per-class series before issue 20", cost.Metrics(work, []cost.Series{{"X", 50, cost.EveryRecord}, {"S", 5, cost.EverySweep}}),
			50*0.30 + 5*(days/730)*0.30, true},
		{"alarms", cost.Alarms(stack), 0.70, false},
		{"key, first year", cost.KMSKeys(stack, 0), 1, false},
		{"key, second year", cost.KMSKeys(stack, 1), 2, false},
		{"key, third year", cost.KMSKeys(stack, 2), 3, false},
		{"key, tenth year: two rotations billed at most", cost.KMSKeys(stack, 9), 3, false},
		{"eventbridge: AWS service events are free", cost.EventBridge(work), 0, true},
		{"sns, sqs dead-letter queues", cost.Notifications(), 0, false},
		{"re-checks: none without trust-policy events", cost.RecheckRequests(work), 0, true},
		{"re-checks: 3 SQS requests each", cost.RecheckRequests(rechecked), 400 * days * 3 / 1e6 * 0.40, true},
		{"re-check queue polling: 5 pollers, one empty receive per 20 s", cost.RecheckPolling(), 5 * 180 * 730 / 1e6 * 0.40, false},
		{"requests with re-checks", cost.LambdaRequests(rechecked), 1401 * days / 1e6 * 0.20, true},
		{"compute with re-checks", cost.LambdaCompute(rechecked, meas, stack),
			(1400*days*(60+400)/1000*128/1024 + days*(400*3+400)/1000*256/1024) * 0.0000133334, true},
		{"logs ingestion with re-checks", cost.LogsIngestion(rechecked, meas), (logBytes + 400*2500) * days / 1e9 * 0.50, true},
		{"iam", cost.IAMCalls(work), 0, false},
		{"member, forwarding only", cost.Member(work), 1000 * days / 1e6 * 1.00, true},
		{"AWS Config", cost.AWSConfig(work), 1000 * days * (0.003 + 0.001), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !near(tc.line.USD, tc.usd) {
				t.Errorf("$%v, want $%v (%s)", tc.line.USD, tc.usd, tc.line.Detail)
			}
			if tc.line.Grows != tc.grows {
				t.Errorf("grows = %v", tc.line.Grows)
			}
			if tc.line.Item == "" || tc.line.Detail == "" {
				t.Errorf("line without item or arithmetic: %+v", tc.line)
			}
		})
	}
	if got := cost.IAMCalls(cost.Workload{Roles: 2001}).Detail; !strings.Contains(got, "3 GetAccountAuthorizationDetails page") {
		t.Errorf("2,001 roles: %s", got)
	}
}

func TestSeriesHours(t *testing.T) {
	tests := []struct {
		w    cost.Workload
		e    cost.Emission
		want float64
	}{
		{work, cost.EveryRecord, 730},
		{cost.Workload{EventsPerDay: 2, SweepsPerDay: 1}, cost.EveryRecord, 3 * days},
		{work, cost.EverySweep, days},
		{cost.Workload{SweepsPerDay: 48}, cost.EverySweep, 730},
		{work, cost.OnError, 0},
	}
	for _, tc := range tests {
		if got := cost.SeriesHours(tc.w, tc.e); !near(got, tc.want) {
			t.Errorf("SeriesHours(%+v, %d) = %v, want %v", tc.w, tc.e, got, tc.want)
		}
	}
}

func TestAccount(t *testing.T) {
	e, err := cost.Account(work, meas, stack)
	if err != nil {
		t.Fatal(err)
	}
	var sum, growing float64
	for _, l := range e.Lines {
		sum += l.USD
		if l.Grows {
			growing += l.USD
		}
	}
	if !near(e.Total, sum) || !near(e.Growing, growing) || e.Series != 3 {
		t.Errorf("total %v (sum %v), growing %v (%v), series %d", e.Total, sum, e.Growing, growing, e.Series)
	}
	if !near(e.KeyRotated, e.Total+2) {
		t.Errorf("key rotated twice: %v, want total + $2", e.KeyRotated)
	}
	if len(e.Assumptions) == 0 || !strings.Contains(strings.Join(e.Assumptions, "\n"), "measured: test") {
		t.Errorf("assumptions %q", e.Assumptions)
	}
	bad := []cost.Workload{
		{EventsPerDay: -1, SweepsPerDay: 1, Mode: "enforce", RetentionDays: 1},
		{EventsPerDay: math.NaN(), SweepsPerDay: 1, Mode: "enforce", RetentionDays: 1},
		{Roles: -1, SweepsPerDay: 1, Mode: "enforce", RetentionDays: 1},
		{SweepsPerDay: -1, Mode: "enforce", RetentionDays: 1},
		{Mode: "enforce"},
		{Mode: "audit", RetentionDays: 1},
		{RecheckShare: 1.5, Mode: "enforce", RetentionDays: 1},
		{RecheckShare: -0.1, Mode: "enforce", RetentionDays: 1},
		{RecheckShare: math.NaN(), Mode: "enforce", RetentionDays: 1},
	}
	for _, w := range bad {
		if _, err := cost.Account(w, meas, stack); err == nil {
			t.Errorf("workload %+v accepted", w)
		}
	}
	for _, ss := range [][]cost.Series{{{"Z", 0, cost.EveryRecord}}, {{"Z", 1, 0}}} {
		if _, err := cost.Account(work, meas, cost.Stack{Series: ss}); err == nil {
			t.Errorf("series %+v accepted", ss)
		}
	}
}

// The series the estimate counts are those the code declares it writes.
func TestSeriesOf(t *testing.T) {
	ss, err := cost.SeriesOf(decision.Metrics())
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != len(decision.Metrics()) {
		t.Fatalf("%d series groups for %d metrics", len(ss), len(decision.Metrics()))
	}
	for i, m := range decision.Metrics() {
		want := cost.EveryRecord
		switch {
		case m.OnError:
			want = cost.OnError
		case m.PerSweep:
			want = cost.EverySweep
		}
		if ss[i].Metric != m.Name || ss[i].Emission != want || ss[i].Count != 1 {
			t.Errorf("series %+v for metric %+v", ss[i], m)
		}
	}
	if _, err := cost.SeriesOf([]decision.Metric{{Name: "X", Unit: "Count", Dimensions: []string{"Class"}}}); err == nil ||
		!strings.Contains(err.Error(), "dimension Class") {
		t.Errorf("a dimension without a declared number of values: %v", err)
	}
}

// The cut of issue 20, at the target workload (1,000 events a day, a daily
// sweep of 400 roles): before it, pkg/decision wrote 10 metrics under
// {Mode, Class} with every record (5 classes: aws-managed, guardrail,
// exempt, service, and "unknown" for ignored events and gone roles; one
// Mode value per deployment) and the sweeper 5 more under {Mode} once per
// sweep; the record sizes are those of `make demo` at commit f19bb77, read
// with `guardrail cost --measured .demo` (each EMF line then named ten
// metrics). After it, the code's own declaration and measured figures.
func TestIssue20Cut(t *testing.T) {
	before := cost.Deployed
	before.Series = []cost.Series{
		{Metric: "10 record metrics × Mode × Class", Count: 10 * 5, Emission: cost.EveryRecord},
		{Metric: "5 sweep metrics × Mode", Count: 5, Emission: cost.EverySweep},
		{Metric: decision.MetricErrorRecords, Count: 1, Emission: cost.OnError},
	}
	oldSizes := cost.DefaultMeasured
	oldSizes.EnforcerBytesPerEvent, oldSizes.SweepBytesPerRecord, oldSizes.SweepBytesPerSweep = 2504, 2334, 1297
	b, err := cost.Account(work, oldSizes, before)
	if err != nil {
		t.Fatal(err)
	}
	after := cost.Deployed
	if after.Series, err = cost.SeriesOf(decision.Metrics()); err != nil {
		t.Fatal(err)
	}
	a, err := cost.Account(work, cost.DefaultMeasured, after)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("before: $%.2f per account-month (%d metric series), $%.2f growing; after: $%.2f (%d series), $%.2f growing",
		b.Total, b.Series, b.Growing, a.Total, a.Series, a.Growing)
	if b.Series != 56 || b.Total < 10 {
		t.Errorf("before: $%.2f, %d series; the issue's estimate was about 55 series and $10–20", b.Total, b.Series)
	}
	// Issue 13 added what its alarms need on top of the cut: the delivery
	// lag (one series with every event, for the p99 alarm), the completed
	// sweeps (one data point a sweep, for the heartbeat) and the two
	// alarms. The targets hold for the rest.
	ops := cost.Metrics(work, []cost.Series{
		{Metric: decision.MetricDeliveryLag, Count: 1, Emission: cost.EveryRecord},
		{Metric: decision.MetricSweepsCompleted, Count: 1, Emission: cost.EverySweep},
	}).USD
	if a.Total-ops-2*cost.AlarmPerMonth > 3.00 || a.Growing-ops > 1.00 {
		t.Errorf("after: $%.2f all-in, $%.2f growing (issue 13's alarms: $%.2f + 2 alarms); targets $3.00 and $1.00 without them", a.Total, a.Growing, ops)
	}
	if m := cost.Member(work); m.USD > 0.10 {
		t.Errorf("member account $%.2f; target $0.10", m.USD)
	}
}
