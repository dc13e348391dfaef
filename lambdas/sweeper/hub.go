package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/hub"
)

// AccountSummaryMessage is the slog message of a hub sweep's per-account
// summary record (`filter msg = "sweep account summary"`); the run's own
// summary keeps SummaryMessage.
const AccountSummaryMessage = "sweep account summary"

// hubSweeper is the hub call the handler makes in organization mode;
// *hub.Hub satisfies it.
type hubSweeper interface {
	Sweep(ctx context.Context, opts hub.SweepOptions, emit func(decision.Record), account func(hub.AccountSummary)) (hub.SweepSummary, error)
}

// hubState is what a hub's sweeper carries from one invocation to the
// next in the same execution environment: the accounts the last run left
// (not started, failed or with roles left) and, per account, the roles it
// left there. The next run starts with them, so a large organization is
// covered across runs instead of the same first accounts every time.
type hubState struct {
	hub          hubSweeper
	leftAccounts []string
	leftRoles    map[string][]string
}

// newHubHandler makes the handler of a hub's sweeper (function.SetupHub
// calls it).
func newHubHandler(h *hub.Hub, cfg config.Config, out io.Writer, version string) *handler {
	return startHub(h, cfg, decision.NewWriter(out, cfg.MetricsNamespace), version)
}

// startHub makes a hub's handler around its decision writer (which
// publishes); function.SetupHub calls it.
func startHub(h *hub.Hub, cfg config.Config, out *decision.Writer, version string) *handler {
	return &handler{hub: &hubState{hub: h}, cfg: cfg, out: out, version: version, now: time.Now}
}

// handleHub sweeps every member account within the invocation's budget:
// one decision record per role, one summary record per account, one for
// the run. Like Handle, it returns an error when the sweep is incomplete
// (accounts or roles left, accounts that could not be swept, failed
// evaluations), so the function's error alarm sees it and Lambda retries.
func (h *handler) handleHub(ctx context.Context, ev events.CloudWatchEvent) error {
	start := h.now()
	opts := hub.SweepOptions{
		Trigger:     sweepTrigger(ev),
		Concurrency: h.cfg.SweepConcurrency,
		Now:         h.now,
		Version:     h.version,
	}
	h.mu.Lock()
	opts.FirstAccounts, opts.FirstRoles = h.hub.leftAccounts, h.hub.leftRoles
	h.mu.Unlock()
	sweepCtx, cancel := sweepContext(ctx, start, &opts.Deadline)
	defer cancel()
	leftRoles := map[string][]string{}
	sum, err := h.hub.hub.Sweep(sweepCtx, opts,
		func(rec decision.Record) { h.out.Write(ctx, rec) },
		func(as hub.AccountSummary) {
			if len(as.LeftRoles) > 0 {
				leftRoles[as.Account] = slices.Clone(as.LeftRoles)
			}
			h.accountSummary(ctx, ev, as)
		})
	keep := func() { h.hub.leftAccounts, h.hub.leftRoles = slices.Clone(sum.LeftAccounts), leftRoles }
	return h.finish(sweepCtx, err, sweepEnd{listed: sum.AccountsListed > 0, keep: keep, before: "sweeping any account",
		summary: func(err error) { h.hubSummary(ctx, ev, sum, err) }, incomplete: accountsLeft(sum)})
}

// accountsLeft is the error of a hub sweep that listed the accounts but
// did not sweep them all completely; nil when it did.
func accountsLeft(sum hub.SweepSummary) error {
	switch {
	case sum.AccountsLeft > 0:
		return fmt.Errorf("sweep incomplete: %d of %d accounts left when the time budget ran out (first: %s)", sum.AccountsLeft, sum.AccountsListed, sum.LeftAccounts[0])
	case sum.AccountsFailed > 0 || sum.AccountsPartial > 0:
		return fmt.Errorf("sweep incomplete: %d accounts could not be swept and %d were swept in part, of %d; see the %q records", sum.AccountsFailed, sum.AccountsPartial, sum.AccountsListed, AccountSummaryMessage)
	}
	return nil
}

// accountSummary logs one member account's summary record.
func (h *handler) accountSummary(ctx context.Context, ev events.CloudWatchEvent, as hub.AccountSummary) {
	level := slog.LevelInfo
	if as.Outcome != hub.AccountSwept {
		level = slog.LevelError
	}
	if as.LeftRoles == nil {
		as.LeftRoles = []string{}
	}
	fields, _ := decision.JSONAttrs(as)
	h.logSummary(ctx, level, AccountSummaryMessage, ev, fields)
}

// hubSummary logs the run's summary record.
func (h *handler) hubSummary(ctx context.Context, ev events.CloudWatchEvent, sum hub.SweepSummary, err error) {
	level := slog.LevelInfo
	if err != nil || sum.AccountsLeft > 0 || sum.AccountsFailed > 0 || sum.AccountsPartial > 0 {
		level = slog.LevelError
	}
	if sum.LeftAccounts == nil {
		sum.LeftAccounts = []string{}
	}
	if sum.SkippedAccounts == nil {
		sum.SkippedAccounts = []string{}
	}
	fields, _ := decision.JSONAttrs(sum)
	if err != nil {
		fields = append(fields, slog.String("error", err.Error()))
	}
	h.logSummary(ctx, level, SummaryMessage, ev, fields)
}

func (h *handler) logSummary(ctx context.Context, level slog.Level, msg string, ev events.CloudWatchEvent, fields []slog.Attr) {
	attrs := append([]slog.Attr{
		slog.String("event_id", ev.ID),
		slog.String("event_name", "Sweep"),
		slog.Any("mode", decision.Modes{Trust: h.cfg.TrustMode, Lockdown: h.cfg.LockdownMode}),
	}, fields...)
	attrs = append(attrs, slog.String("version", h.version))
	h.out.Logger().LogAttrs(ctx, level, msg, attrs...)
}
