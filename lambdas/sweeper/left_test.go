package main

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
)

// recordingSweeper answers each Sweep with the next summary and keeps the
// options it was given.
type recordingSweeper struct {
	sums []guardrail.SweepSummary
	errs []error
	opts []guardrail.SweepOptions
}

func (r *recordingSweeper) Sweep(_ context.Context, opts guardrail.SweepOptions, _ func(decision.Record)) (guardrail.SweepSummary, error) {
	i := len(r.opts)
	r.opts = append(r.opts, opts)
	return r.sums[i], r.errs[i]
}

// An invocation that runs out of time remembers exactly the roles it left,
// and the next invocation in the same environment starts with them; one
// that finishes, or whose listing fails, hands on what it knows.
func TestSweepStartsWithWhatWasLeft(t *testing.T) {
	left := []string{"app-1500", "app-1501", "app-1999"}
	fake := &recordingSweeper{
		sums: []guardrail.SweepSummary{
			{Listed: 2000, Evaluated: 1997, Left: 3, LeftRoles: left},
			{}, // the listing failed: nothing known about what is left
			{Listed: 2000, Evaluated: 2000},
			{Listed: 2000, Evaluated: 2000},
		},
		errs: []error{nil, errors.New("list roles: Throttling"), nil, nil},
	}
	out := &bytes.Buffer{}
	h := newHandler(fake, config.Config{MetricsNamespace: "T"}, out, "test")
	ctx := context.Background()
	if err := h.Handle(ctx, schedule); err == nil || !strings.Contains(err.Error(), "3 of 2000 roles left") {
		t.Fatalf("first run: %v, want the incomplete sweep reported", err)
	}
	if err := h.Handle(ctx, schedule); err == nil {
		t.Fatal("second run: a failed listing must fail the invocation")
	}
	if err := h.Handle(ctx, schedule); err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(ctx, schedule); err != nil {
		t.Fatal(err)
	}
	want := [][]string{nil, left, left, nil}
	for i, o := range fake.opts {
		if !slices.Equal(o.First, want[i]) {
			t.Errorf("run %d started with %v, want %v", i+1, o.First, want[i])
		}
	}
	if !strings.Contains(out.String(), `"started_with_left":3`) {
		t.Errorf("summary does not say the run started with the 3 left roles:\n%s", out.String())
	}
}
