package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/iamguardrail/guardrail/infra/settings"
	"github.com/iamguardrail/guardrail/pkg/cost"
	"github.com/iamguardrail/guardrail/pkg/decision"
)

// runCost prints what one account's deployment costs a month for a stated
// workload, item by item, with the assumptions, and last the line
// "total: $X per account-month (N metric series)". The metric series are
// those pkg/decision declares it writes; the stack's figures are
// cost.Deployed (checked against the template by infra/stack's tests); the
// durations and sizes are the measured defaults of pkg/cost, or those of a
// demo run with --measured DIR.
func runCost(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("cost", stderr)
	events := fs.Float64("events-per-day", 1000, "IAM role events a day (each is one enforcer invocation)")
	roles := fs.Int("roles", 400, "roles in the account (each sweep evaluates all of them)")
	// About half of the handled events in the corpus of real CloudTrail
	// records set a trust policy (32 of 70: CreateRole and
	// UpdateAssumeRolePolicy); an assumption, not a measurement of any
	// account's traffic.
	recheckShare := fs.Float64("recheck-share", 0.5, "share of the events that set a trust policy (CreateRole, UpdateAssumeRolePolicy), each re-checked once through the SQS queue")
	mode := fs.String("mode", "enforce", "guardrail mode: enforce, check or skip")
	region := fs.String("region", cost.PricesRegion, "region of the deployment (the stack deploys to us-east-1 only)")
	measuredDir := fs.String("measured", "", "take durations and record sizes from this `make demo` output directory (default: the figures measured for pkg/cost)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cost: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *region != cost.PricesRegion {
		fmt.Fprintf(stderr, "cost: region %q: the stack deploys to %s only (IAM's CloudTrail events reach EventBridge only there), so prices are tabulated for %s only\n",
			*region, cost.PricesRegion, cost.PricesRegion)
		return 2
	}
	sweeps, err := sweepsPerDay(settings.DefaultSweepSchedule)
	if err != nil {
		fmt.Fprintf(stderr, "cost: %v\n", err)
		return 2
	}
	w := cost.Workload{EventsPerDay: *events, RecheckShare: *recheckShare, Roles: *roles, SweepsPerDay: sweeps, Mode: *mode,
		RetentionDays: settings.DefaultLogRetentionDays}
	if err := w.Validate(); err != nil {
		fmt.Fprintf(stderr, "cost: %v\n", err)
		return 2
	}
	m := cost.DefaultMeasured
	if *measuredDir != "" {
		d, err := readDemoDir(*measuredDir)
		if err != nil {
			fmt.Fprintf(stderr, "cost: %v\n", err)
			return 2
		}
		m = d.measured("demo run in " + *measuredDir)
	}
	s := cost.Deployed
	if s.Series, err = cost.SeriesOf(decision.Metrics()); err != nil {
		fmt.Fprintf(stderr, "cost: %v\n", err)
		return 1
	}
	e, err := cost.Account(w, m, s)
	if err != nil {
		fmt.Fprintf(stderr, "cost: %v\n", err)
		return 2
	}
	printCost(stdout, w, m, e)
	return 0
}

// printCost writes the estimate: workload, measured inputs, the items, the
// assumptions, the variants (key rotated, organization member, AWS Config)
// and, last, the total line.
func printCost(out io.Writer, w cost.Workload, m cost.Measured, e cost.Estimate) {
	fmt.Fprintf(out, "Monthly cost of the guardrail in one account (%s prices read %s, pkg/cost/prices.go)\n\n", cost.PricesRegion, cost.PricesRead)
	fmt.Fprintf(out, "Workload: %s role events a day, %g%% of them re-checked; a sweep of %d roles %g time(s) a day (sweepSchedule %s); mode %s; records kept %d days (logRetentionDays).\n",
		plain(w.EventsPerDay), w.RecheckShare*100, w.Roles, w.SweepsPerDay, settings.DefaultSweepSchedule, w.Mode, w.RetentionDays)
	fmt.Fprintf(out, "Measured: enforcer writes %.0f B per event; a sweep %.0f B per record (%.2f records per role) and %.0f B per sweep; Lambda's platform records %.0f B per invocation (assumed: %d × the emulator's text lines).\n",
		m.EnforcerBytesPerEvent, m.SweepBytesPerRecord, m.RecordsPerRole, m.SweepBytesPerSweep, m.PlatformBytesPerInvocation, platformJSONFactor)
	fmt.Fprintf(out, "          enforcer invocation p50 %.2f ms, p99 %.2f ms; sweep %.3f ms per role; cold start %.0f ms.\n\n",
		m.EnforcerP50MS, m.EnforcerP99MS, m.SweepMSPerRole, m.InitMS)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ITEM\t$/MONTH\tGROWS\tARITHMETIC")
	for _, l := range e.Lines {
		grows := "fixed"
		if l.Grows {
			grows = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Item, usd(l.USD), grows, l.Detail)
	}
	tw.Flush()

	fmt.Fprintln(out, "\nAssumptions:")
	for _, a := range e.Assumptions {
		fmt.Fprintf(out, "  - %s\n", a)
	}
	fmt.Fprintf(out, "  - the Lambda lines are small whatever the durations: at 1,000 ms per enforcer invocation (IAM far slower than in the emulator) they would be $%s\n",
		usd(slowLambda(w, m)))

	fmt.Fprintf(out, "\nOf the total, $%s grows with the workload and $%s is fixed (alarms, key, re-check queue polling).\n", usd(e.Growing), usd(e.Total-e.Growing))
	once := e.Total - cost.KMSKeys(cost.Deployed, 0).USD + cost.KMSKeys(cost.Deployed, 1).USD
	fmt.Fprintf(out, "The key rotates yearly and each rotation adds $%.2f a month, up to two: $%s per account-month in the second year, $%s from the third.\n",
		cost.KMSKeyPerMonth, usd(once), usd(e.KeyRotated))
	member := cost.Member(w)
	fmt.Fprintf(out, "Organization mode (issue 12, not built yet): a member account that only forwards its IAM events to the hub: $%s per member-month (%s); the hub's lines above grow with the member's events.\n",
		usd(member.USD), member.Detail)
	config := cost.AWSConfig(w)
	fmt.Fprintf(out, "AWS Config recording the same role changes and evaluating one rule: $%s per account-month (%s).\n", usd(config.USD), config.Detail)
	fmt.Fprintf(out, "total: $%s per account-month (%d metric series)\n", usd(e.Total), e.Series)
}

// slowLambda is the two Lambda lines with enforcer invocations of one second.
func slowLambda(w cost.Workload, m cost.Measured) float64 {
	m.EnforcerP99MS = 1000
	return cost.LambdaRequests(w).USD + cost.LambdaCompute(w, m, cost.Deployed).USD
}

func usd(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// plain writes a count with thousands separators, and a fraction only if
// it has one.
func plain(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && c != '-' && (len(whole)-i)%3 == 0 && whole[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

// rateExpr is an EventBridge rate expression: rate(value unit).
var rateExpr = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`)

// sweepsPerDay is how many sweeps a day a sweepSchedule rate expression
// runs; a cron expression has no fixed rate to derive.
func sweepsPerDay(expr string) (float64, error) {
	m := rateExpr.FindStringSubmatch(strings.TrimSpace(expr))
	if m == nil {
		return 0, errors.New("sweep schedule " + strconv.Quote(expr) + ": only rate(…) expressions have a rate to estimate")
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("sweep schedule %q: rate value must be > 0", expr)
	}
	per := map[string]float64{"minute": 24 * 60, "minutes": 24 * 60, "hour": 24, "hours": 24, "day": 1, "days": 1}[m[2]]
	return per / n, nil
}
