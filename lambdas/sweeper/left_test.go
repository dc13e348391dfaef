package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
)

// An invocation that runs out of time names exactly the roles it left, and
// the next invocation in the same environment starts with them (issue 14,
// item 4). Time is counted in IAM calls: the engine's and the handler's
// clock advance one second per request the stand-in receives, so the budget
// runs out after the same work on every machine.
func TestSweepStartsWithWhatWasLeft(t *testing.T) {
	w := newWorld(t, config.Enforce)
	var open []string
	for i := range 60 {
		open = append(open, fmt.Sprintf("open-%02d", i))
	}
	w.seed(t, 40, open...)
	base := time.Now()
	clock := func() time.Time { return base.Add(time.Duration(w.srv.Calls("")) * time.Second) }
	engine, err := guardrail.New(w.srv.Client(), w.dep.Config, guardrail.WithVersion("test"), guardrail.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	w.h.engine, w.h.now, w.h.concurrency = engine, clock, 1

	var prevLeft []string
	for run := 1; ; run++ {
		if run > 20 {
			t.Fatal("20 runs and roles still left")
		}
		// 100 s of calls before the deadline: the handler keeps 10 s in
		// reserve, so no evaluation starts after the 90th call.
		ctx, cancel := context.WithDeadline(context.Background(), clock().Add(100*time.Second))
		err := w.h.Handle(ctx, schedule)
		cancel()
		o := w.take(t)
		left := strings.Fields(strings.Trim(fmt.Sprint(o.summary["left_roles"]), "[]"))
		evaluated := map[string]bool{}
		var order []string
		for _, d := range o.decisions {
			if name, _ := d["role_name"].(string); name != "" {
				evaluated[name] = true
				order = append(order, name)
			}
		}
		if got := len(evaluated) + len(left); got != 102 { // 100 seeded, the guardrail's two
			t.Fatalf("run %d: %d evaluated + %d left = %d, want every role accounted for", run, len(evaluated), len(left), got)
		}
		for _, name := range left {
			if evaluated[name] {
				t.Fatalf("run %d: %s both evaluated and left", run, name)
			}
		}
		if o.summary["first_roles"] != float64(len(prevLeft)) {
			t.Errorf("run %d: first_roles %v, want %d", run, o.summary["first_roles"], len(prevLeft))
		}
		if len(prevLeft) > 0 && (len(order) == 0 || order[0] != prevLeft[0]) {
			t.Errorf("run %d started with %v, want %s, the first role the previous run left", run, order[:min(1, len(order))], prevLeft[0])
		}
		if run == 1 && len(left) == 0 {
			t.Fatal("the first run finished: the budget is too generous to test anything")
		}
		t.Logf("run %d: %d evaluated, %d left", run, len(evaluated), len(left))
		if len(left) == 0 {
			if err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
			break
		}
		if err == nil || !strings.Contains(err.Error(), "sweep incomplete") {
			t.Fatalf("run %d: Handle = %v, want an incomplete sweep", run, err)
		}
		prevLeft = left
	}
	for _, name := range open {
		if st, _ := w.srv.Role(name); strings.Contains(st.TrustPolicy, "999988887777") || len(st.AttachedPolicyARNs) == 0 {
			t.Errorf("%s not compliant after the runs: %+v", name, st)
		}
	}
}
