package guardrail

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// run is one evaluation in progress: what it has learnt about IAM's
// consistency and the failures met. The four stages (read, plan, apply,
// record: read.go, plan.go, apply.go, record.go) take and return values; the
// record is written once, by the last.
type run struct {
	e     *Engine
	t     Trigger
	name  string // the role evaluated, as named by the caller
	start time.Time
	// calls counts the IAM operations sent, through the callCounter
	// middleware (SDK retries are not counted).
	calls int
	// staleReads counts the reads that disagreed with the event's claim or
	// with an earlier read; consistent is false when they never agreed.
	staleReads int
	consistent bool
	errs       []error
	// seen is set once a read of this invocation returned the role. From
	// then on a NoSuchEntity about the role is IAM's eventual consistency
	// (its read APIs are not consistent with each other), never proof that
	// it was deleted: the evaluation fails for a retry instead (issue 19).
	seen bool
	// count is the option that adds the callCounter middleware to one IAM
	// call; every call of the run passes it.
	count func(*iam.Options)
	// deferTo is when a deferred re-check looks again (deferRecheck).
	deferTo time.Time
}

func (e *Engine) newRun(name string, t Trigger) *run {
	r := &run{e: e, t: t, name: name, start: e.now(), consistent: true}
	r.count = func(o *iam.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("GuardrailCallCount",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					r.calls++
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
	return r
}

func (r *run) fail(err error) { r.errs = append(r.errs, err) }

// parse is the one place the engine parses a policy document: once per
// document read or claimed (Engine.parse counts them in tests).
func (r *run) parse(raw string) (*policy.Document, error) { return r.e.parse([]byte(raw)) }

func isNoSuchEntity(err error) bool { return errorCode(err) == "NoSuchEntity" }

// missing turns a NoSuchEntity about a role that this invocation has
// already read into a retryable staleness error: IAM's read APIs are not
// consistent with each other, so one of them may answer NoSuchEntity for a
// role another has just returned (IAM User Guide, troubleshooting, "Changes
// that I make are not always immediately visible"). Lambda retries the
// event; if the role really was deleted, the retry's first read does not
// see it and records role-gone (issue 19, defect 1).
func (r *run) missing(err error) error {
	r.consistent = false
	return fmt.Errorf("role %s was read in this evaluation, so this NoSuchEntity is a stale read, not a deletion: %w: %w", r.name, ErrStaleRead, err)
}

// wait sleeps for the i-th stale-read backoff, counting the stale read.
func (r *run) wait(ctx context.Context, d time.Duration, what string) error {
	r.staleReads++
	if err := r.e.sleep(ctx, d); err != nil {
		return fmt.Errorf("%s: wait for consistent read: %w", what, err)
	}
	return nil
}

// paginator is the shape of the SDK's IAM paginators.
type paginator[O any] interface {
	HasMorePages() bool
	NextPage(ctx context.Context, optFns ...func(*iam.Options)) (O, error)
}

// eachPage passes every page of p to fn, each call counted (count).
func eachPage[O any](ctx context.Context, p paginator[O], count func(*iam.Options), fn func(O)) error {
	for p.HasMorePages() {
		page, err := p.NextPage(ctx, count)
		if err != nil {
			return err
		}
		fn(page)
	}
	return nil
}
