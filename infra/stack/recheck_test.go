package stack

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/pkg/config"
)

// TestRecheckQueue: the re-check queue and its dead-letter queue, encrypted,
// TLS only, redriven after three receives, with a visibility timeout of six
// times the enforcer's timeout.
func TestRecheckQueue(t *testing.T) {
	s := defaults(t)
	qID, q := s.byName(t, "AWS::SQS::Queue", "QueueName", RecheckQueueName)
	dlqID, dlq := s.byName(t, "AWS::SQS::Queue", "QueueName", RecheckDLQName)
	_, fn := s.byName(t, "AWS::Lambda::Function", "FunctionName", EnforcerName)
	timeout := fn["Timeout"].(float64)
	if v, _ := q["VisibilityTimeout"].(float64); v < 6*timeout || v != recheckVisibilitySeconds {
		t.Errorf("visibility timeout %v, want 6 × the enforcer's %v s", q["VisibilityTimeout"], timeout)
	}
	if !jsonEqual(t, q["RedrivePolicy"], map[string]any{"deadLetterTargetArn": getAtt(dlqID, "Arn"), "maxReceiveCount": float64(3)}) {
		t.Errorf("redrive policy %v", q["RedrivePolicy"])
	}
	if q["SqsManagedSseEnabled"] != true || q["MessageRetentionPeriod"] != float64(4*24*3600) || q["DelaySeconds"] != nil {
		t.Errorf("queue %v", q)
	}
	if dlq["SqsManagedSseEnabled"] != true || dlq["MessageRetentionPeriod"] != float64(14*24*3600) || dlq["RedrivePolicy"] != nil {
		t.Errorf("dead-letter queue %v", dlq)
	}
	for _, id := range []string{qID, dlqID} {
		if !s.tlsOnly(t, id) {
			t.Errorf("%s: no TLS-only queue policy", id)
		}
	}
	roleID, _ := s.byName(t, "AWS::IAM::Role", "RoleName", EnforcerName)
	if !s.onlyEnforcerSends(t, qID, roleID) {
		t.Errorf("%s: no queue policy denying SendMessage to all but the enforcer's role", qID)
	}
}

// queueStatements returns the statements of the queue's policies.
func (s synthesized) queueStatements(t *testing.T, queueID string) []map[string]any {
	var out []map[string]any
	for _, r := range s.resources("AWS::SQS::QueuePolicy") {
		p := r["Properties"].(map[string]any)
		if !jsonEqual(t, p["Queues"], []any{ref(queueID)}) {
			continue
		}
		for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			out = append(out, st.(map[string]any))
		}
	}
	return out
}

// tlsOnly reports whether a queue policy of the queue denies requests not
// made over TLS.
func (s synthesized) tlsOnly(t *testing.T, queueID string) bool {
	for _, st := range s.queueStatements(t, queueID) {
		if st["Effect"] == "Deny" && jsonEqual(t, st["Condition"], map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}) {
			return true
		}
	}
	return false
}

// onlyEnforcerSends reports whether a queue policy of the queue denies
// sqs:SendMessage to every principal but the role.
func (s synthesized) onlyEnforcerSends(t *testing.T, queueID, roleID string) bool {
	for _, st := range s.queueStatements(t, queueID) {
		if st["Effect"] == "Deny" && st["Action"] == "sqs:SendMessage" && jsonEqual(t, st["Principal"], map[string]any{"AWS": "*"}) &&
			jsonEqual(t, st["Condition"], map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": getAtt(roleID, "Arn")}}) {
			return true
		}
	}
	return false
}

// TestRecheckMapping: one event-source mapping, the re-check queue to the
// enforcer, with partial batch responses, one record per invocation and a
// maximum concurrency below the enforcer's reserved concurrency.
func TestRecheckMapping(t *testing.T) {
	for name, tc := range map[string]struct {
		s        synthesized
		reserved float64
		maxConc  float64
	}{"default": {defaults(t), 5, 2}, "configured": {full(t), 3, 2}} {
		t.Run(name, func(t *testing.T) {
			qID, _ := tc.s.byName(t, "AWS::SQS::Queue", "QueueName", RecheckQueueName)
			fnID, fn := tc.s.byName(t, "AWS::Lambda::Function", "FunctionName", EnforcerName)
			if fn["ReservedConcurrentExecutions"] != tc.reserved {
				t.Fatalf("reserved concurrency %v", fn["ReservedConcurrentExecutions"])
			}
			esms := tc.s.resources("AWS::Lambda::EventSourceMapping")
			if len(esms) != 1 {
				t.Fatalf("%d event-source mappings, want 1", len(esms))
			}
			for _, r := range esms {
				p := r["Properties"].(map[string]any)
				want := map[string]any{
					"EventSourceArn": getAtt(qID, "Arn"), "FunctionName": ref(fnID), "BatchSize": float64(1), "Enabled": true,
					"FunctionResponseTypes": []any{"ReportBatchItemFailures"}, "ScalingConfig": map[string]any{"MaximumConcurrency": tc.maxConc},
				}
				for k, v := range want {
					if !jsonEqual(t, p[k], v) {
						t.Errorf("%s = %v, want %v", k, p[k], v)
					}
				}
				if mc := p["ScalingConfig"].(map[string]any)["MaximumConcurrency"].(float64); mc > tc.reserved {
					t.Errorf("maximum concurrency %v above the reserved %v", mc, tc.reserved)
				}
			}
		})
	}
}

func TestRecheckConcurrency(t *testing.T) {
	for reserved, want := range map[int]float64{1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 6: 3, 50: 25} {
		got := recheckConcurrency(reserved)
		if got != want || got < 2 || got > 1000 || (reserved >= 2 && got > float64(reserved)) {
			t.Errorf("recheckConcurrency(%d) = %v, want %v (2-1000, at most the reserved)", reserved, got, want)
		}
	}
}

// TestRecheckPermissions: the enforcer may send to the re-check queue and
// receive from it, on that queue only; the sweeper has nothing on it; only
// the enforcer knows the queue's URL.
func TestRecheckPermissions(t *testing.T) {
	s := defaults(t)
	qID, _ := s.byName(t, "AWS::SQS::Queue", "QueueName", RecheckQueueName)
	qARN := getAtt(qID, "Arn")
	onQueue := func(st map[string]any) bool { return jsonEqual(t, st["Resource"], qARN) }
	var enforcerOnQueue []string
	sendOn := map[string]bool{}
	for _, st := range s.statements(t, EnforcerName) {
		if st["Effect"] != "Allow" {
			continue
		}
		for _, a := range strs(st["Action"]) {
			if !strings.HasPrefix(a, "sqs:") {
				continue
			}
			res, _ := json.Marshal(st["Resource"])
			if strings.Contains(string(res), `"*"`) {
				t.Errorf("%s allowed on %s", a, res)
			}
			if onQueue(st) {
				enforcerOnQueue = append(enforcerOnQueue, a)
			}
			if a == "sqs:SendMessage" {
				sendOn[string(res)] = true
			}
		}
	}
	slices.Sort(enforcerOnQueue)
	want := []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage"}
	if !slices.Equal(slices.Compact(enforcerOnQueue), want) {
		t.Errorf("enforcer's actions on the re-check queue %v, want %v", enforcerOnQueue, want)
	}
	// SendMessage on the re-check queue and the failed-invocations queue
	// (the on-failure destination), nothing else.
	failedID, _ := s.byName(t, "AWS::SQS::Queue", "QueueName", NamePrefix+"-FailedInvocations")
	a, _ := json.Marshal(qARN)
	b, _ := json.Marshal(getAtt(failedID, "Arn"))
	if len(sendOn) != 2 || !sendOn[string(a)] || !sendOn[string(b)] {
		t.Errorf("enforcer's sqs:SendMessage on %v", sendOn)
	}
	for _, st := range s.statements(t, SweeperName) {
		if onQueue(st) {
			t.Errorf("sweeper statement %v on the re-check queue", st)
		}
	}

	resolve := newResolver(t, s)
	for name, want := range map[string]string{EnforcerName: "https://sqs.us-east-1.amazonaws.com/" + testAccount + "/" + RecheckQueueName, SweeperName: ""} {
		_, fn := s.byName(t, "AWS::Lambda::Function", "FunctionName", name)
		v, ok := fn["Environment"].(map[string]any)["Variables"].(map[string]any)[config.EnvRecheckQueueURL]
		if (want == "") != !ok || (ok && resolve.resolve(v) != want) {
			t.Errorf("%s: %s = %v, want %q", name, config.EnvRecheckQueueURL, v, want)
		}
	}
}
