package stack

import (
	"testing"

	"github.com/iamguardrail/guardrail/pkg/cost"
	"github.com/iamguardrail/guardrail/pkg/decision"
)

// The cost estimate (pkg/cost.Deployed, guardrail cost) describes the stack
// this package synthesizes with default settings: a change to a function's
// memory, the alarms, the keys or the metric filters must change the
// estimate with it.
//
// It synthesizes its own default stack: the shared one (defaults) keeps its
// cloud assembly in the temporary directory of the first test that asks for
// it, which must outlive the tests that read cdk-nag's report from there.
func TestCostEstimateMatchesStack(t *testing.T) {
	s := synth(t, nil)
	memory := map[string]int{EnforcerName: cost.Deployed.EnforcerMemoryMB, SweeperName: cost.Deployed.SweeperMemoryMB}
	for name, want := range memory {
		_, p := s.byName(t, "AWS::Lambda::Function", "FunctionName", name)
		if p["MemorySize"] != float64(want) || p["Architectures"].([]any)[0] != "arm64" {
			t.Errorf("%s: memory %v, architectures %v; the estimate assumes %d MB on arm64", name, p["MemorySize"], p["Architectures"], want)
		}
	}
	if n := len(s.resources("AWS::Lambda::Function")); n != len(memory) {
		t.Errorf("%d functions, the estimate prices %d", n, len(memory))
	}
	alarms := s.resources("AWS::CloudWatch::Alarm")
	if len(alarms) != cost.Deployed.Alarms {
		t.Errorf("%d alarms, the estimate prices %d", len(alarms), cost.Deployed.Alarms)
	}
	for id, r := range alarms {
		p := r["Properties"].(map[string]any)
		// A standard-resolution alarm on one metric: a period of a minute or
		// more, no metric math (a percentile is one metric too).
		if period, _ := p["Period"].(float64); period < 60 || p["Metrics"] != nil {
			t.Errorf("alarm %s is not a standard-resolution single-metric alarm: %v", id, p)
		}
	}
	keys := s.resources("AWS::KMS::Key")
	if len(keys) != cost.Deployed.Keys {
		t.Errorf("%d KMS keys, the estimate prices %d", len(keys), cost.Deployed.Keys)
	}
	declared := map[string]decision.Metric{}
	for _, m := range decision.Metrics() {
		declared[m.Name] = m
	}
	for id, r := range s.resources("AWS::Logs::MetricFilter") {
		for _, tr := range r["Properties"].(map[string]any)["MetricTransformations"].([]any) {
			mt := tr.(map[string]any)
			m, ok := declared[mt["MetricName"].(string)]
			// Without a default value or dimensions the filter publishes
			// one series, and only when a line matches: an ERROR line, or
			// the summary of a completed sweep.
			if !ok || !(m.OnError || m.PerSweep) || mt["DefaultValue"] != nil || mt["Dimensions"] != nil {
				t.Errorf("metric filter %s publishes %v, which pkg/decision does not declare as an on-error metric", id, mt)
			}
		}
	}
}
