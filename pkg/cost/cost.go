// Package cost estimates what one account's guardrail deployment costs a
// month, item by item, from a stated workload, the figures measured in the
// Lambda emulator and the stack's own settings. It is pure arithmetic: the
// prices are constants (prices.go) with the page and date they were read,
// and every assumption the arithmetic makes is returned with the result so
// that it can be printed next to it.
package cost

import (
	"fmt"
	"math"
	"strings"

	"github.com/iamguardrail/guardrail/pkg/decision"
)

// Emission says when a metric series receives data points, which is what
// CloudWatch bills: a custom metric costs only for the hours in which it
// receives data.
type Emission int

const (
	// EveryRecord: a data point with every decision record, so in every
	// hour in which an event arrives or a sweep runs.
	EveryRecord Emission = iota + 1
	// EverySweep: a data point once per sweep.
	EverySweep
	// OnError: a data point only when a function logs an ERROR line (a
	// metric filter without a default value); none in a healthy month.
	OnError
)

// Series is a group of metric series the guardrail can write: one metric
// name and the number of distinct dimension-value combinations it takes.
type Series struct {
	Metric   string
	Count    int
	Emission Emission
}

// Workload is what the account does.
type Workload struct {
	// EventsPerDay is the number of IAM role events (CloudTrail records the
	// event rule matches) a day; each is one enforcer invocation.
	EventsPerDay float64
	// RecheckShare is the share of those events that set a trust policy
	// (CreateRole, UpdateAssumeRolePolicy): the enforcer re-checks each of
	// them once through its SQS delay queue, a second enforcer invocation
	// (issue 19; infra/stack recheck.go).
	RecheckShare float64
	// Roles is the number of roles every sweep lists and evaluates.
	Roles int
	// SweepsPerDay is how often the sweeper runs (sweepSchedule).
	SweepsPerDay float64
	// Mode is the guardrail's mode (enforce, check, skip). No price
	// depends on it: records are written and IAM calls are free either way.
	Mode string
	// RetentionDays is the decision log groups' retention (logRetentionDays).
	RetentionDays int
}

// Measured holds the figures measured in emulator runs of the real
// bootstraps (see Source).
type Measured struct {
	// EnforcerBytesPerEvent is what the enforcer writes to its log group
	// per event: the decision record, its EMF line and, amortized, the
	// configuration line of a cold start.
	EnforcerBytesPerEvent float64
	// SweepBytesPerRecord is one sweep decision record and its EMF line;
	// SweepBytesPerSweep what the sweeper writes once per sweep (summary,
	// summary metrics, configuration).
	SweepBytesPerRecord float64
	SweepBytesPerSweep  float64
	// PlatformBytesPerInvocation is what Lambda itself writes per
	// invocation (the platform start and report records).
	PlatformBytesPerInvocation float64
	// EnforcerP50MS and EnforcerP99MS are the enforcer's invocation
	// durations, init phase excluded.
	EnforcerP50MS, EnforcerP99MS float64
	// SweepMSPerRole is a sweep's duration divided by the roles it listed.
	SweepMSPerRole float64
	// InitMS is the longest init phase (cold start) measured.
	InitMS float64
	// RecordsPerRole is decision records per listed role in a sweep.
	RecordsPerRole float64
	// Source says how the figures were measured (a command).
	Source string
}

// Stack is what the deployed stack holds, as infra/stack builds it (its
// tests compare these figures with the synthesized template).
type Stack struct {
	EnforcerMemoryMB, SweeperMemoryMB int
	// Alarms is the number of standard-resolution alarms, each on one metric.
	Alarms int
	// Keys is the number of customer managed KMS keys, each rotated yearly.
	Keys int
	// Series lists every custom metric series the guardrail can write.
	Series []Series
}

// Line is one item of the estimate.
type Line struct {
	Item   string  // what is charged
	Detail string  // the quantity and the arithmetic
	USD    float64 // per month
	// Grows is true when the charge grows with the workload (events,
	// roles); false for fixed charges (the key, the alarms).
	Grows bool
}

// Estimate is one account's monthly cost.
type Estimate struct {
	Lines []Line
	// Total is the sum of the lines; Growing the part that grows with the
	// workload.
	Total, Growing float64
	// Series is the number of custom metric series the code can write.
	Series int
	// KeyRotated is Total once every key has been rotated the maximum
	// billed number of times (from the third year of a deployment).
	KeyRotated float64
	// Assumptions are the premises of the arithmetic, one sentence each.
	Assumptions []string
}

// DaysPerMonth is the month the estimate uses: 730 hours.
const DaysPerMonth = HoursPerMonth / 24

// Validate reports whether the workload can be estimated.
func (w Workload) Validate() error {
	switch {
	case w.EventsPerDay < 0 || math.IsNaN(w.EventsPerDay) || math.IsInf(w.EventsPerDay, 0):
		return fmt.Errorf("events per day %v: must be a number ≥ 0", w.EventsPerDay)
	case w.RecheckShare < 0 || w.RecheckShare > 1 || math.IsNaN(w.RecheckShare):
		return fmt.Errorf("re-check share %v: must be between 0 and 1", w.RecheckShare)
	case w.Roles < 0:
		return fmt.Errorf("roles %d: must be ≥ 0", w.Roles)
	case w.SweepsPerDay < 0 || math.IsNaN(w.SweepsPerDay) || math.IsInf(w.SweepsPerDay, 0):
		return fmt.Errorf("sweeps per day %v: must be a number ≥ 0", w.SweepsPerDay)
	case w.RetentionDays <= 0:
		return fmt.Errorf("retention %d days: must be > 0", w.RetentionDays)
	}
	switch w.Mode {
	case "enforce", "check", "skip":
	default:
		return fmt.Errorf("mode %q: must be enforce, check or skip", w.Mode)
	}
	return nil
}

// Account estimates one account's deployment: every line, in the order a
// reader follows the pipeline (Lambda, logs, metrics, alarms, key, the
// services that cost nothing at this scale).
func Account(w Workload, m Measured, s Stack) (Estimate, error) {
	if err := w.Validate(); err != nil {
		return Estimate{}, err
	}
	series, err := SeriesCount(s.Series)
	if err != nil {
		return Estimate{}, err
	}
	e := Estimate{Series: series}
	e.Lines = []Line{
		LambdaRequests(w),
		LambdaCompute(w, m, s),
		LogsIngestion(w, m),
		LogsStorage(w, m),
		Metrics(w, s.Series),
		Alarms(s),
		KMSKeys(s, 0),
		EventBridge(w),
		RecheckRequests(w),
		RecheckPolling(),
		Notifications(),
		IAMCalls(w),
	}
	for _, l := range e.Lines {
		e.Total += l.USD
		if l.Grows {
			e.Growing += l.USD
		}
	}
	e.KeyRotated = e.Total - KMSKeys(s, 0).USD + KMSKeys(s, KMSMaxBilledRotations).USD
	e.Assumptions = []string{
		fmt.Sprintf("a month is %.0f hours (%.2f days); prices are %s list prices read %s (pkg/cost/prices.go), before free tiers, which the account shares with everything else it runs",
			HoursPerMonth, DaysPerMonth, PricesRegion, PricesRead),
		fmt.Sprintf("every invocation is billed its p99 duration plus a cold start of %.0f ms (upper bounds: most invocations are warm and faster); durations come from the emulator on a developer machine, with IAM on loopback", m.InitMS),
		"every metric series is billed for every hour in which an event arrives or a sweep runs (at most one hour per event)",
		fmt.Sprintf("%.0f%% of the events set a trust policy and are re-checked once: a second enforcer invocation and record, and %d SQS requests (send, receive, delete)",
			w.RecheckShare*100, SQSRequestsPerRecheck),
		fmt.Sprintf("the re-check queue's event-source mapping keeps %d pollers long-polling every %d s while the queue is empty (Lambda's floor when a maximum concurrency is set; the polling interval is not documented, %d s is the longest wait ReceiveMessage allows)",
			SQSIdlePollers, SQSLongPollSeconds, SQSLongPollSeconds),
		fmt.Sprintf("log storage at steady state: %d days of records kept, charged uncompressed (an upper bound)", w.RetentionDays),
		fmt.Sprintf("mode %s: no price depends on it (the records are the same, IAM calls are free)", w.Mode),
		"measured: " + m.Source,
	}
	return e, nil
}

// SeriesCount is the number of distinct metric series in ss.
func SeriesCount(ss []Series) (int, error) {
	n := 0
	for _, s := range ss {
		if s.Count < 1 {
			return 0, fmt.Errorf("metric %s: %d series", s.Metric, s.Count)
		}
		switch s.Emission {
		case EveryRecord, EverySweep, OnError:
		default:
			return 0, fmt.Errorf("metric %s: unknown emission %d", s.Metric, s.Emission)
		}
		n += s.Count
	}
	return n, nil
}

func invocationsPerMonth(w Workload) (events, sweeps float64) {
	return w.EventsPerDay * DaysPerMonth, w.SweepsPerDay * DaysPerMonth
}

// RechecksPerMonth is the number of re-checks a month: one per event that
// sets a trust policy.
func RechecksPerMonth(w Workload) float64 {
	return w.EventsPerDay * w.RecheckShare * DaysPerMonth
}

// LambdaRequests is the per-request charge of both functions: an enforcer
// invocation per event and per re-check, a sweeper invocation per sweep.
func LambdaRequests(w Workload) Line {
	events, sweeps := invocationsPerMonth(w)
	rechecks := RechecksPerMonth(w)
	n := events + rechecks + sweeps
	return Line{
		Item: "Lambda requests",
		Detail: fmt.Sprintf("%s events + %s re-checks + %s sweeps = %s invocations × $%.2f/1M",
			count(events), count(rechecks), count(sweeps), count(n), LambdaPerMillionRequests),
		USD:   n / 1e6 * LambdaPerMillionRequests,
		Grows: true,
	}
}

// LambdaCompute is the duration charge (GB-seconds, arm64) of both
// functions: each enforcer invocation (event or re-check) at the p99
// duration, each sweep at its per-role duration times the roles, each with
// a cold start.
func LambdaCompute(w Workload, m Measured, s Stack) Line {
	events, sweeps := invocationsPerMonth(w)
	events += RechecksPerMonth(w)
	enforcerGBs := events * (m.EnforcerP99MS + m.InitMS) / 1000 * float64(s.EnforcerMemoryMB) / 1024
	sweepMS := float64(w.Roles)*m.SweepMSPerRole + m.InitMS
	sweeperGBs := sweeps * sweepMS / 1000 * float64(s.SweeperMemoryMB) / 1024
	gbs := enforcerGBs + sweeperGBs
	return Line{
		Item: "Lambda compute (arm64)",
		Detail: fmt.Sprintf("enforcer %s × (%.1f + %.0f) ms × %d MB + sweeper %s × %.0f ms × %d MB = %.1f GB-s × $%.10f",
			count(events), m.EnforcerP99MS, m.InitMS, s.EnforcerMemoryMB, count(sweeps), sweepMS, s.SweeperMemoryMB, gbs, LambdaArmPerGBSecond),
		USD:   gbs * LambdaArmPerGBSecond,
		Grows: true,
	}
}

// LogBytesPerDay is what both functions write to CloudWatch Logs a day; a
// re-check writes what an event does.
func LogBytesPerDay(w Workload, m Measured) float64 {
	enforcer := w.EventsPerDay * (1 + w.RecheckShare) * (m.EnforcerBytesPerEvent + m.PlatformBytesPerInvocation)
	sweeper := w.SweepsPerDay * (float64(w.Roles)*m.RecordsPerRole*m.SweepBytesPerRecord + m.SweepBytesPerSweep + m.PlatformBytesPerInvocation)
	return enforcer + sweeper
}

// LogsIngestion is the CloudWatch Logs ingestion charge.
func LogsIngestion(w Workload, m Measured) Line {
	gb := LogBytesPerDay(w, m) * DaysPerMonth / 1e9
	return Line{
		Item:   "CloudWatch Logs ingestion",
		Detail: fmt.Sprintf("%s B/day × %.2f days = %.3f GB × $%.2f/GB", count(LogBytesPerDay(w, m)), DaysPerMonth, gb, LogsIngestionPerGB),
		USD:    gb * LogsIngestionPerGB,
		Grows:  true,
	}
}

// LogsStorage is the storage charge once the log groups hold a full
// retention period of records.
func LogsStorage(w Workload, m Measured) Line {
	gb := LogBytesPerDay(w, m) * float64(w.RetentionDays) / 1e9
	return Line{
		Item:   "CloudWatch Logs storage",
		Detail: fmt.Sprintf("%d days retained × %s B/day = %.3f GB × $%.2f/GB-month", w.RetentionDays, count(LogBytesPerDay(w, m)), gb, LogsStoragePerGBMonth),
		USD:    gb * LogsStoragePerGBMonth,
		Grows:  true,
	}
}

// SeriesHours is how many hours a month a series of emission e receives
// data: at most one hour per event or sweep that writes it, at most every
// hour of the month.
func SeriesHours(w Workload, e Emission) float64 {
	events, sweeps := invocationsPerMonth(w)
	switch e {
	case EveryRecord:
		return math.Min(HoursPerMonth, events+RechecksPerMonth(w)+sweeps)
	case EverySweep:
		return math.Min(HoursPerMonth, sweeps)
	}
	return 0 // OnError: no ERROR line in a healthy month
}

// Metrics is the custom metric charge: each series, prorated by the hours
// in which it receives data.
func Metrics(w Workload, ss []Series) Line {
	var usd float64
	var parts []string
	n := 0
	for _, s := range ss {
		h := SeriesHours(w, s.Emission)
		usd += float64(s.Count) * h / HoursPerMonth * MetricPerMonth
		n += s.Count
		parts = append(parts, fmt.Sprintf("%s %d×%.0fh", s.Metric, s.Count, h))
	}
	return Line{
		Item:   "CloudWatch custom metrics",
		Detail: fmt.Sprintf("%d series (%s) × $%.2f per 730 h", n, strings.Join(parts, ", "), MetricPerMonth),
		USD:    usd,
		Grows:  true,
	}
}

// Alarms is the alarm charge: a fixed cost.
func Alarms(s Stack) Line {
	return Line{
		Item:   "CloudWatch alarms",
		Detail: fmt.Sprintf("%d standard alarms × $%.2f", s.Alarms, AlarmPerMonth),
		USD:    float64(s.Alarms) * AlarmPerMonth,
	}
}

// KMSKeys is the key charge after the given number of yearly rotations
// (0 in the first year; at most KMSMaxBilledRotations are billed). The
// requests the alarm topic makes (only when an alarm fires) stay within the
// free 20,000 a month.
func KMSKeys(s Stack, rotations int) Line {
	r := min(max(rotations, 0), KMSMaxBilledRotations)
	return Line{
		Item: "KMS key (alarm topic)",
		Detail: fmt.Sprintf("%d key × $%.2f × (1 + %d rotations billed); $%.2f from the third year",
			s.Keys, KMSKeyPerMonth, r, float64(s.Keys)*KMSKeyPerMonth*(1+KMSMaxBilledRotations)),
		USD: float64(s.Keys) * KMSKeyPerMonth * float64(1+r),
	}
}

// EventBridge: CloudTrail's IAM events and the schedule are AWS service
// events on the default bus, which cost nothing to match and deliver.
func EventBridge(w Workload) Line {
	events, sweeps := invocationsPerMonth(w)
	return Line{
		Item:   "EventBridge",
		Detail: fmt.Sprintf("%s IAM events + %s schedule events, AWS service events on the default bus: free", count(events), count(sweeps)),
		Grows:  true,
	}
}

// The re-check queue's SQS requests (infra/stack recheck.go).
const (
	// SQSRequestsPerRecheck: the enforcer's SendMessage, the
	// ReceiveMessage that delivers it and the delete after the invocation,
	// one request each with batch size 1 and a message under 64 KB (each
	// 64 KB chunk of a payload is billed as one request,
	// https://aws.amazon.com/sqs/pricing/).
	SQSRequestsPerRecheck = 3
	// SQSIdlePollers is how many pollers the event-source mapping keeps on
	// an empty queue: "When traffic is low, Lambda scales back the
	// processing to five concurrent batches, and can optimize to as few as
	// 2 concurrent batches to reduce the SQS calls and corresponding costs.
	// However, this optimization is not available when you enable the
	// maximum concurrency setting" (Lambda Developer Guide, "Configuring
	// scaling behavior for SQS event source mappings",
	// https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html);
	// the stack sets a maximum concurrency.
	SQSIdlePollers = 5
	// SQSLongPollSeconds is the wait of each empty ReceiveMessage: Lambda
	// "uses long polling", whose longest wait is 20 s (ReceiveMessage,
	// WaitTimeSeconds); a shorter wait would cost more.
	SQSLongPollSeconds = 20
)

// RecheckRequests is the SQS charge of the re-checks themselves.
func RecheckRequests(w Workload) Line {
	n := RechecksPerMonth(w) * SQSRequestsPerRecheck
	return Line{
		Item:   "SQS re-check requests",
		Detail: fmt.Sprintf("%s re-checks × %d requests (send, receive, delete) = %s × $%.2f/1M", count(RechecksPerMonth(w)), SQSRequestsPerRecheck, count(n), SQSPerMillionRequests),
		USD:    n / 1e6 * SQSPerMillionRequests,
		Grows:  true,
	}
}

// RecheckPolling is the SQS charge of the event-source mapping's pollers
// while the re-check queue is empty, which is most of the time: a fixed
// charge, an upper bound when re-checks are frequent (a poll that receives
// one is counted in RecheckRequests too).
func RecheckPolling() Line {
	n := SQSIdlePollers * (3600.0 / SQSLongPollSeconds) * HoursPerMonth
	return Line{
		Item: "SQS re-check queue polling",
		Detail: fmt.Sprintf("%d pollers × one empty ReceiveMessage per %d s × %.0f h = %s requests × $%.2f/1M",
			SQSIdlePollers, SQSLongPollSeconds, HoursPerMonth, count(n), SQSPerMillionRequests),
		USD: n / 1e6 * SQSPerMillionRequests,
	}
}

// Notifications: the SNS topic publishes, and the dead-letter queues
// receive a message, only when something fails; a healthy month stays far
// inside their free tiers.
func Notifications() Line {
	return Line{
		Item:   "SNS topic, SQS dead-letter queues",
		Detail: fmt.Sprintf("requests only when an alarm fires or an event fails ($%.2f/1M publishes, $%.2f/100k e-mails, $%.2f/1M SQS requests)", SNSPerMillionPublishes, SNSPer100kEmails, SQSPerMillionRequests),
	}
}

// IAMListPage is GetAccountAuthorizationDetails' page size in a sweep
// (pkg/guardrail's listPageSize).
const IAMListPage = 1000

// IAMCalls: IAM's API is free, but rate-limited, which is what bounds the
// sweep: compliant roles cost no call beyond the listing.
func IAMCalls(w Workload) Line {
	pages := math.Ceil(float64(w.Roles) / IAMListPage)
	return Line{
		Item: "IAM API calls",
		Detail: fmt.Sprintf("free (https://docs.aws.amazon.com/IAM/latest/UserGuide/introduction.html) but throttled: a sweep lists %d roles in %.0f GetAccountAuthorizationDetails page(s), plus a few calls per non-compliant role",
			w.Roles, pages),
	}
}

// Member estimates a member account in organization mode (issue 12, not
// built yet) that only forwards its IAM events to the hub's event bus: the
// cross-account delivery is its only charge; functions, logs, metrics,
// alarms and the key live once, in the hub, whose own lines grow with the
// member's events.
func Member(w Workload) Line {
	events := w.EventsPerDay * DaysPerMonth
	return Line{
		Item:   "member account, forwarding only (organization mode, issue 12, not built)",
		Detail: fmt.Sprintf("%s events delivered cross-account × $%.2f/1M", count(events), EventBridgePerMillionCrossAccount),
		USD:    events / 1e6 * EventBridgePerMillionCrossAccount,
		Grows:  true,
	}
}

// AWSConfig is what AWS Config would charge to record the same role
// changes and evaluate one rule on them: at least one configuration item
// per role change (an attach or detach also changes the policy's item) and
// one evaluation per item. It is a lower bound: Config records IAM roles
// once per recording region unless global resources are limited to one.
func AWSConfig(w Workload) Line {
	items := w.EventsPerDay * DaysPerMonth
	return Line{
		Item: "AWS Config, same role changes, one rule",
		Detail: fmt.Sprintf("%s configuration items × $%.3f + %s rule evaluations × $%.3f",
			count(items), ConfigPerItem, count(items), ConfigPerEvaluation),
		USD:   items*ConfigPerItem + items*ConfigPerEvaluation,
		Grows: true,
	}
}

// count formats a quantity with thousands separators, rounded.
func count(f float64) string {
	n := int64(math.Round(f))
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Deployed is the stack infra/stack synthesizes with its default
// settings; infra/stack's tests compare every figure with the template.
var Deployed = Stack{
	EnforcerMemoryMB: 128,
	SweeperMemoryMB:  256,
	// Errors and throttles of each function, each dead-letter queue not
	// empty (event delivery, failed invocations, re-checks), ERROR records,
	// the sweeper heartbeat and the delivery lag p99.
	Alarms: 10,
	// The alarm topic's key (CloudWatch cannot publish to a topic under
	// SNS's AWS managed key).
	Keys: 1,
}

// SeriesOf turns the metrics the code declares (pkg/decision.Metrics) into
// series groups: the number of series of a metric is the product of its
// dimensions' numbers of values. A dimension without a declared number of
// values is an error, so a new dimension cannot slip past the estimate.
func SeriesOf(ms []decision.Metric) ([]Series, error) {
	out := make([]Series, 0, len(ms))
	for _, m := range ms {
		n := 1
		for _, d := range m.Dimensions {
			v, ok := decision.DimensionValues(d)
			if !ok || v < 1 {
				return nil, fmt.Errorf("metric %s: dimension %s has no declared number of values (pkg/decision.DimensionValues)", m.Name, d)
			}
			n *= v
		}
		e := EveryRecord
		switch {
		case m.OnError:
			e = OnError
		case m.PerSweep:
			e = EverySweep
		}
		out = append(out, Series{Metric: m.Name, Count: n, Emission: e})
	}
	return out, nil
}
