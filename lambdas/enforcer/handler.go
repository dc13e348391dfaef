package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iamguardrail/guardrail/pkg/classify"
	"github.com/iamguardrail/guardrail/pkg/cloudtrail"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/hub"
)

// evaluator is the engine call the handler makes; *guardrail.Engine
// satisfies it. Tests substitute failures the real engine only shows under
// rare IAM conditions.
type evaluator interface {
	HandleEvent(ctx context.Context, ev guardrail.Event) (decision.Record, error)
	RecheckDue(eventTime time.Time) time.Time
}

// handler turns one EventBridge event into at most one engine evaluation and
// exactly one decision record (plus its EMF line) on out.
type handler struct {
	engine  evaluator
	cfg     config.Config
	out     *decision.Writer
	version string
	now     func() time.Time
	// recheck sends events back through the re-check queue; nil when
	// cfg.RecheckQueueURL is unset (recheckErr says why it is nil when
	// it is set).
	recheck    rechecker
	recheckErr error
}

func newHandler(engine evaluator, cfg config.Config, out io.Writer, version string) *handler {
	return &handler{engine: engine, cfg: cfg, out: decision.NewWriter(out, cfg.MetricsNamespace), version: version, now: time.Now}
}

// start makes the handler around the engine function.Setup started and its
// decision writer (which publishes), with the re-check queue's client when
// one is configured. A client that cannot be built fails every evaluation
// that needs a re-check (Handle), rather than dropping the re-checks.
func start(engine *guardrail.Engine, cfg config.Config, out *decision.Writer, version string) *handler {
	h := &handler{engine: engine, cfg: cfg, out: out, version: version, now: time.Now}
	if cfg.RecheckQueueURL != "" {
		h.recheck, h.recheckErr = newSQSRechecker(context.Background(), cfg.RecheckQueueURL)
	}
	return h
}

// startHub makes the handler of a hub (organization mode): each event is
// evaluated in the member account it names (hub.Hub.HandleEvent).
func startHub(h *hub.Hub, cfg config.Config, out *decision.Writer, version string) *handler {
	hh := &handler{engine: h, cfg: cfg, out: out, version: version, now: time.Now}
	if cfg.RecheckQueueURL != "" {
		hh.recheck, hh.recheckErr = newSQSRechecker(context.Background(), cfg.RecheckQueueURL)
	}
	return hh
}

// Handle evaluates the role an IAM event names and logs the decision.
//
// Events the guardrail cannot use (another source, a failed call, an API it
// does not handle, no role name, the guardrail's own change) are logged with
// outcome "ignored" and a reason, and acknowledged: retrying them cannot make
// them usable.
//
// Every evaluation error is returned, transient or not. Lambda then retries
// the event (twice, asynchronously) and afterwards sends it, whole, to the
// on-failure queue, whose alarm pages an operator (DESIGN.md §8: nothing is
// silently dropped). For a transient error (throttling, IAM 5xx, stale reads)
// the retry is the fix. For a permanent one (AccessDenied from an SCP,
// MalformedPolicyDocument, a missing lockdown policy) the role stays
// non-compliant until someone acts, and the queued event is what they redrive
// once the cause is fixed; acknowledging it would leave only a log line. The
// retries cost two idempotent evaluations: the engine decides from the
// role's current state, so repeating it never does harm. A role deleted in
// the meantime is an outcome ("role-gone"), not an error, and is not retried.
func (h *handler) Handle(ctx context.Context, ev events.CloudWatchEvent) error {
	return h.handle(ctx, ev, false)
}

// handle is Handle, for an event delivered by EventBridge or (recheck)
// again from the re-check queue.
func (h *handler) handle(ctx context.Context, ev events.CloudWatchEvent, recheck bool) error {
	received := h.now()
	defer h.out.Flush(ctx)
	change, err := cloudtrail.Decode(ev)
	if err != nil {
		reason := err.Error()
		if ig, ok := cloudtrail.IsIgnored(err); ok {
			reason = ig.Reason
		}
		h.ignore(ctx, change, received, reason)
		return nil
	}
	if own := h.ownRole(change.SessionIssuer); own != "" {
		// The EventBridge rule already excludes the guardrail's roles; this
		// is the second line against a self-trigger loop, which Lambda's
		// recursion detection does not cover for CloudTrail events.
		h.ignore(ctx, change, received, "caused by the guardrail's own role ("+own+")")
		return nil
	}

	if slices.Contains(cloudtrail.LockdownPolicyEventNames, change.EventName) && change.PolicyARN != h.cfg.LockdownPolicyARNIn(change.Account) {
		// The rule matches these events for the lockdown policy only; any
		// other policy's versions are not the guardrail's business.
		h.ignore(ctx, change, received, "policy "+change.PolicyARN+" is not the lockdown policy")
		return nil
	}

	// The decoded event goes to the engine whole: nothing is copied, so
	// nothing (such as the account) can be lost on the way.
	change.ReceivedAt, change.Recheck = received, recheck
	rec, err := h.engine.HandleEvent(ctx, change)
	var ig *hub.Ignored
	if errors.As(err, &ig) {
		// A hub's verdict on the event itself (its own session in a
		// member, an account it does not guard): nothing to retry.
		h.ignore(ctx, change, received, ig.Reason)
		return nil
	}
	if err != nil && h.cfg.Hub() && rec.EventID == "" && rec.EventName == "" {
		// A hub failed before any engine ran (it could not assume the
		// member role, or not check membership): the record says which
		// account and why, from the event.
		rec = h.base(change, received)
		rec.PolicyARN = change.PolicyARN
	}
	if err == nil && rec.RecheckAt != nil {
		err = h.sendRecheck(ctx, ev, rec.RecheckAt.Sub(h.now()))
	}
	if err != nil && rec.Outcome != decision.OutcomeError {
		// The record must say the evaluation failed even if the engine left
		// it otherwise filled in.
		rec.Outcome = decision.OutcomeError
	}
	if err != nil && rec.Error == "" {
		rec.Error = err.Error()
	}
	h.out.Write(ctx, rec)
	if err != nil {
		kind := "permanent"
		if guardrail.IsRetryable(err) || hub.IsAssumeError(err) {
			// A member role the hub cannot assume yet is usually a member
			// stack still deploying to a new account: retrying is the fix.
			kind = "transient"
		}
		subject := "role " + change.RoleName
		if change.RoleName == "" {
			subject = "policy " + change.PolicyARN
		}
		return fmt.Errorf("%s failure evaluating %s for %s event %s: %w",
			kind, subject, change.EventName, change.EventID, err)
	}
	return nil
}

// sendRecheck sends ev to the re-check queue. A re-check that cannot be
// sent fails the evaluation, so none is silently dropped: Lambda's retry
// evaluates again, which is harmless, and sends it again.
func (h *handler) sendRecheck(ctx context.Context, ev events.CloudWatchEvent, delay time.Duration) error {
	if h.recheck == nil {
		err := h.recheckErr
		if err == nil {
			err = errors.New("no re-check queue client")
		}
		return fmt.Errorf("schedule the re-check: %w", err)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("schedule the re-check: encode the event: %w", err)
	}
	if err := h.recheck.Recheck(ctx, body, delay); err != nil {
		return fmt.Errorf("schedule the re-check: %w", err)
	}
	return nil
}

// ownRole returns the guardrail role pattern that issuer matches, or "".
func (h *handler) ownRole(issuer string) string {
	if issuer == "" {
		return ""
	}
	res := classify.Classify(classify.Role{ARN: issuer}, classify.Rules{ProtectedRoleARNs: h.cfg.ProtectedRoleARNs})
	if res.Class != classify.Guardrail {
		return ""
	}
	return issuer
}

// ignore logs the record of an event that is acknowledged without evaluation.
func (h *handler) ignore(ctx context.Context, c cloudtrail.Change, received time.Time, reason string) {
	rec := h.base(c, received)
	rec.Outcome, rec.Reason = decision.OutcomeIgnored, reason
	h.out.Write(ctx, rec)
}

// base is the record of an event that no engine evaluated, from the event.
func (h *handler) base(c cloudtrail.Change, received time.Time) decision.Record {
	return decision.Record{
		EventID:   c.EventID,
		EventName: c.EventName,
		EventTime: c.EventTime,
		Actor:     c.Actor,
		Account:   c.Account,
		RoleName:  c.RoleName,
		Mode:      decision.Modes{Trust: h.cfg.TrustMode, Lockdown: h.cfg.LockdownMode},
		// Nothing was read: there is no stale-read question to answer.
		ReadConsistent: true,
		DeliveryLagMS:  decision.DeliveryLag(c.EventTime, received),
		DurationMS:     h.now().Sub(received).Milliseconds(),
		Version:        h.version,
	}
}
