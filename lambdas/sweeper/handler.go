package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
)

// sweeper is the engine call the handler makes; *guardrail.Engine satisfies it.
type sweeper interface {
	Sweep(ctx context.Context, opts guardrail.SweepOptions, emit func(decision.Record)) (guardrail.SweepSummary, error)
}

// SummaryMessage is the slog message of the sweep's summary record, so a
// Logs Insights query can select it with `filter msg = "sweep summary"`.
const SummaryMessage = "sweep summary"

// Time budget. A Lambda invocation is killed at its deadline without a
// chance to log, so the sweep stops starting evaluations startMargin before
// it (an evaluation of a non-compliant role makes a few writes, each retried
// by the SDK with backoff when IAM throttles) and cancels whatever is still
// running stopMargin before it, which leaves time to log the summary.
const (
	maxStartMargin = 60 * time.Second
	minStartMargin = 2 * time.Second
	stopMargin     = 1500 * time.Millisecond
)

// handler runs one sweep per invocation: every role evaluated (up to the time
// budget), one decision record per role, one summary record.
type handler struct {
	engine      sweeper
	cfg         config.Config
	out         *decision.Writer
	version     string
	concurrency int
	now         func() time.Time

	// left holds the roles the previous invocation in this execution
	// environment could not reach before its time budget ran out; the next
	// invocation (Lambda's retry of the failed one, or the next schedule,
	// usually in the same warm environment) evaluates them first. In a new
	// environment it is empty and the sweep goes in listing order, where
	// the roles the last run fixed cost no call.
	mu   sync.Mutex
	left []string

	// hub is set in organization mode (newHubHandler): the sweep covers
	// every member account (handleHub) instead of the engine's account.
	hub *hubState
}

// newHandler makes the handler around a started engine, writing to out.
func newHandler(engine *guardrail.Engine, cfg config.Config, out io.Writer, version string) *handler {
	return start(engine, cfg, decision.NewWriter(out, cfg.MetricsNamespace), version)
}

// start makes the handler around a started engine and its decision writer
// (function.Setup calls it).
func start(engine *guardrail.Engine, cfg config.Config, out *decision.Writer, version string) *handler {
	return &handler{engine: engine, cfg: cfg, out: out, version: version, now: time.Now}
}

// budget returns the last moment an evaluation may start and the moment
// running ones are cancelled, for an invocation that ends at deadline. The
// start margin is a tenth of the time left, between minStartMargin and
// maxStartMargin: a 15-minute sweep keeps a minute in reserve, a short test
// invocation keeps most of its time for work.
func budget(now, deadline time.Time) (startBy, stopAt time.Time) {
	left := deadline.Sub(now)
	margin := min(max(left/10, minStartMargin), maxStartMargin)
	// minStartMargin > stopMargin, so no evaluation starts after the stop.
	return deadline.Add(-margin), deadline.Add(-stopMargin)
}

// sweepContext bounds a sweep to the invocation's budget: without a
// deadline it returns ctx; with one, it sets *startBy (the options' last
// moment to start an evaluation) and returns a context that ends at the
// budget's stop time.
func sweepContext(ctx context.Context, start time.Time, startBy *time.Time) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}
	}
	var stopAt time.Time
	*startBy, stopAt = budget(start, deadline)
	return context.WithDeadline(ctx, stopAt)
}

// outOfTime returns err, or, when there is none but the sweep's context
// ran out of time, an error saying so.
func outOfTime(sweepCtx context.Context, err error) error {
	if err == nil && errors.Is(sweepCtx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("sweep: %w", sweepCtx.Err())
	}
	return err
}

// Handle sweeps the account. The schedule's event only labels the records
// (its ID and time); any event, including an empty manual test event, starts
// a full sweep, which only reads compliant roles and is safe to repeat.
//
// It returns an error when the sweep is incomplete: the listing failed,
// roles were left when time ran out, or evaluations failed. Lambda then
// retries the invocation (the repeat is cheap: roles fixed by the first run
// are compliant and cost no call) and, if it keeps failing, the function's
// error alarm and failure queue make it visible (DESIGN.md §8).
func (h *handler) Handle(ctx context.Context, ev events.CloudWatchEvent) error {
	// Findings are imported in batches; the last one at the end.
	defer h.out.Flush(ctx)
	if h.hub != nil {
		return h.handleHub(ctx, ev)
	}
	start := h.now()
	opts := guardrail.SweepOptions{
		Trigger:     sweepTrigger(ev),
		Concurrency: h.concurrency,
	}
	h.mu.Lock()
	opts.First = h.left
	h.mu.Unlock()
	sweepCtx, cancel := sweepContext(ctx, start, &opts.Deadline)
	defer cancel()

	sum, err := h.engine.Sweep(sweepCtx, opts, func(rec decision.Record) { h.out.Write(ctx, rec) })
	// A sweep that listed the account knows exactly what it left.
	keep := func() { h.left = slices.Clone(sum.LeftRoles) }
	return h.finish(sweepCtx, err, sweepEnd{listed: sum.Listed > 0, keep: keep, before: "evaluating any role",
		summary: func(err error) { h.summary(ctx, ev, sum, err) }, incomplete: rolesLeft(sum)})
}

// rolesLeft is the error of a single-account sweep that listed the roles
// but did not finish them all; nil when it did.
func rolesLeft(sum guardrail.SweepSummary) error {
	if sum.Left > 0 {
		return fmt.Errorf("sweep incomplete: %d of %d roles left when the time budget ran out (first: %s)", sum.Left, sum.Listed, sum.LeftRoles[0])
	}
	if sum.Errors > 0 {
		return fmt.Errorf("sweep finished with %d failed evaluations of %d roles; see the records with outcome \"error\"", sum.Errors, sum.Listed)
	}
	return nil
}

// sweepEnd is what the end of an invocation (finish) needs to know of the
// sweep it ran, single-account or hub.
type sweepEnd struct {
	// listed is true when the sweep listed what it sweeps (roles or
	// accounts): only then does it know what it left.
	listed bool
	// keep remembers what the sweep left for the next invocation in this
	// execution environment; finish runs it under h.mu when listed.
	keep func()
	// summary logs the run's summary record with the sweep's error.
	summary func(error)
	// before names what a failure before the listing prevented.
	before string
	// incomplete is the error of a sweep that listed but did not finish
	// everything, nil otherwise.
	incomplete error
}

// finish ends an invocation: it keeps what the sweep left, logs the
// summary with the sweep's error (err, or running out of time), and
// returns the invocation's error: a failure before the listing, else an
// incomplete sweep, else err.
func (h *handler) finish(sweepCtx context.Context, err error, e sweepEnd) error {
	if e.listed {
		h.mu.Lock()
		e.keep()
		h.mu.Unlock()
	}
	err = outOfTime(sweepCtx, err)
	e.summary(err)
	if err != nil && !e.listed {
		return fmt.Errorf("sweep failed before %s: %w", e.before, err)
	}
	if e.incomplete != nil {
		return e.incomplete
	}
	return err
}

// summary logs the sweep's summary record.
func (h *handler) summary(ctx context.Context, ev events.CloudWatchEvent, sum guardrail.SweepSummary, err error) {
	level := slog.LevelInfo
	if err != nil || sum.Left > 0 || sum.Errors > 0 {
		level = slog.LevelError
	}
	if sum.LeftRoles == nil {
		sum.LeftRoles = []string{} // one JSON type per field for saved queries
	}
	if sum.Classes == nil {
		sum.Classes = map[string]int{}
	}
	// SweepSummary is plain data, so its encoding cannot fail; its JSON
	// names are snake_case like the records'.
	fields, _ := decision.JSONAttrs(sum)
	attrs := append([]slog.Attr{
		slog.String("event_id", ev.ID),
		slog.String("event_name", "Sweep"),
		slog.Any("mode", decision.Modes{Trust: h.cfg.TrustMode, Lockdown: h.cfg.LockdownMode}),
	}, fields...)
	attrs = append(attrs, slog.String("version", h.version))
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	// The summary has no metrics of its own (issue 20): a sweep that leaves
	// roles or fails evaluations returns an error, which the function's
	// AWS/Lambda Errors alarm reports at no cost; the counts are here.
	h.out.Logger().LogAttrs(ctx, level, SummaryMessage, attrs...)
}

// sweepTrigger labels a sweep's records with the schedule's event.
func sweepTrigger(ev events.CloudWatchEvent) guardrail.Trigger {
	return guardrail.Trigger{
		EventID:   ev.ID,
		EventName: "Sweep",
		Actor:     scheduleActor(ev),
		EventTime: ev.Time,
		// No ReceivedAt: a sweep has no exposure window to report
		// (delivery_lag_ms stays null).
	}
}

// scheduleActor names what started the sweep: the schedule rule's ARN for a
// scheduled event, else a fixed label for a manual invocation.
func scheduleActor(ev events.CloudWatchEvent) string {
	if len(ev.Resources) > 0 && ev.Resources[0] != "" {
		return ev.Resources[0]
	}
	if ev.Source != "" {
		return ev.Source
	}
	return "manual invocation"
}
