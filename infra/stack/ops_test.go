package stack

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/publish"
)

// The decision topic, its e-mail subscription (notifyEmail), and the rule
// from the functions' decision events to it with a readable message.
func TestDecisionNotifications(t *testing.T) {
	for _, tc := range []struct {
		s     synthesized
		email string
	}{{defaults(t), ""}, {full(t), "platform@example.com"}} {
		topicID, topic := tc.s.byName(t, "AWS::SNS::Topic", "TopicName", DecisionTopicName)
		if topic["KmsMasterKeyId"] == nil {
			t.Error("decision topic is not encrypted")
		}
		var subs []map[string]any
		for _, r := range tc.s.resources("AWS::SNS::Subscription") {
			if p := r["Properties"].(map[string]any); jsonEqual(t, p["TopicArn"], ref(topicID)) {
				subs = append(subs, p)
			}
		}
		if tc.email == "" && len(subs) != 0 || tc.email != "" && (len(subs) != 1 || subs[0]["Protocol"] != "email" || subs[0]["Endpoint"] != tc.email) {
			t.Errorf("decision subscriptions %v, want e-mail %q", subs, tc.email)
		}
		_, rule := tc.s.byName(t, "AWS::Events::Rule", "Name", DecisionRuleName)
		if !jsonEqual(t, rule["EventPattern"], map[string]any{"detail-type": []any{publish.DetailType}, "source": []any{publish.Source}}) {
			t.Errorf("decision rule pattern %v", rule["EventPattern"])
		}
		targets := rule["Targets"].([]any)
		if len(targets) != 1 {
			t.Fatalf("decision rule targets %v", targets)
		}
		target := targets[0].(map[string]any)
		it := target["InputTransformer"].(map[string]any)
		if !jsonEqual(t, target["Arn"], ref(topicID)) {
			t.Errorf("target %v is not the decision topic", target["Arn"])
		}
		paths := it["InputPathsMap"].(map[string]any)
		for _, want := range []string{"$.detail.role_arn", "$.detail.account", "$.detail.actor", "$.detail.notification.undo", "$.detail.notification.changes"} {
			found := false
			for _, p := range paths {
				found = found || p == want
			}
			if !found {
				t.Errorf("input transformer lacks %s: %v", want, paths)
			}
		}
		tpl := it["InputTemplate"].(string)
		for _, want := range []string{"Role: ", "Caused by: ", "What changed: ", "Undo: "} {
			if !strings.Contains(tpl, want) {
				t.Errorf("message template lacks %q: %s", want, tpl)
			}
		}
		// The key lets EventBridge publish to the encrypted topic.
		key, _ := json.Marshal(tc.s.resources("AWS::KMS::Key"))
		if !strings.Contains(string(key), "AllowEventBridgeDecisionNotifications") || !strings.Contains(string(key), "events.amazonaws.com") {
			t.Error("the topic key does not let EventBridge publish")
		}
	}
}

// Every Input path of the message names a field of the decision event
// (the record, or its notification).
func TestNotificationTemplateFields(t *testing.T) {
	var paths []string
	NotificationTemplate(NamePrefix, func(p string) string { paths = append(paths, p); return "" })
	known := recordPaths(t)
	for _, f := range []string{"summary", "changes", "removed", "undo"} {
		known[publish.NotificationField+"."+f] = true
	}
	for _, p := range paths {
		if f := strings.TrimPrefix(p, "$.detail."); !known[indexless(f)] {
			t.Errorf("message path %s names no field of the decision event", p)
		}
	}
}

// The functions may put events on the default bus with the guardrail's
// source only; BatchImportFindings exists only with securityHub, on the
// account's own product.
func TestPublishingPermissions(t *testing.T) {
	for _, tc := range []struct {
		s   synthesized
		hub bool
	}{{defaults(t), false}, {full(t), true}} {
		for _, role := range []string{EnforcerName, SweeperName} {
			var put, hub []map[string]any
			for _, st := range tc.s.statements(t, role) {
				if slices.Contains(strs(st["Action"]), "events:PutEvents") {
					put = append(put, st)
				}
				if slices.Contains(strs(st["Action"]), "securityhub:BatchImportFindings") {
					hub = append(hub, st)
				}
			}
			res, _ := json.Marshal(put)
			if len(put) != 1 || !strings.Contains(string(res), ":event-bus/default") ||
				!jsonEqual(t, put[0]["Condition"], map[string]any{"StringEquals": map[string]any{"events:source": publish.Source}}) {
				t.Errorf("%s: PutEvents statements %s", role, res)
			}
			if tc.hub != (len(hub) == 1) {
				t.Errorf("%s: BatchImportFindings statements %v, want securityHub=%v", role, hub, tc.hub)
			}
			if tc.hub {
				r, _ := json.Marshal(hub[0]["Resource"])
				if !strings.Contains(string(r), ":product/") || !strings.Contains(string(r), "/default") {
					t.Errorf("%s: BatchImportFindings on %s, want the account's default product", role, r)
				}
			}
		}
		_, fn := tc.s.byName(t, "AWS::Lambda::Function", "FunctionName", EnforcerName)
		env := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
		if env[publish.EnvEventBus] != "default" || (env[publish.EnvSecurityHubProductARN] != nil) != tc.hub {
			t.Errorf("publishing environment %v", env)
		}
	}
}

// The heartbeat alarm watches completed sweeps over two schedule
// intervals, missing data breaching; the lag alarm the p99 delivery lag.
func TestOperationsAlarms(t *testing.T) {
	for _, tc := range []struct {
		s               synthesized
		period, lagSecs float64
	}{{defaults(t), 86400, 900}, {full(t), 86400, 600}} {
		topicID, _ := tc.s.byName(t, "AWS::SNS::Topic", "TopicName", NamePrefix+"-Alarms")
		_, hb := tc.s.byName(t, "AWS::CloudWatch::Alarm", "AlarmName", HeartbeatAlarmName)
		if hb["MetricName"] != decision.MetricSweepsCompleted || hb["Namespace"] != MetricNamespace || hb["Period"] != tc.period ||
			hb["EvaluationPeriods"] != float64(2) || hb["DatapointsToAlarm"] != float64(2) || hb["Threshold"] != float64(1) ||
			hb["ComparisonOperator"] != "LessThanThreshold" || hb["TreatMissingData"] != "breaching" || hb["Statistic"] != "Sum" ||
			!jsonEqual(t, hb["AlarmActions"], []any{ref(topicID)}) {
			t.Errorf("heartbeat alarm %v", hb)
		}
		_, lag := tc.s.byName(t, "AWS::CloudWatch::Alarm", "AlarmName", LagAlarmName)
		if lag["MetricName"] != decision.MetricDeliveryLag || lag["ExtendedStatistic"] != "p99" || lag["Threshold"] != tc.lagSecs*1000 ||
			lag["ComparisonOperator"] != "GreaterThanThreshold" || lag["TreatMissingData"] != "notBreaching" ||
			!jsonEqual(t, lag["AlarmActions"], []any{ref(topicID)}) {
			t.Errorf("lag alarm %v", lag)
		}
		found := false
		for _, r := range tc.s.resources("AWS::Logs::MetricFilter") {
			p := r["Properties"].(map[string]any)
			mt := p["MetricTransformations"].([]any)[0].(map[string]any)
			if p["FilterPattern"] == SweepSummaryFilter && mt["MetricName"] == decision.MetricSweepsCompleted {
				lg, _ := tc.s.byName(t, "AWS::Logs::LogGroup", "LogGroupName", "/aws/lambda/"+SweeperName)
				found = jsonEqual(t, p["LogGroupName"], ref(lg))
			}
		}
		if !found {
			t.Error("no sweep-summary metric filter on the sweeper's log group")
		}
	}
}

// The dashboard holds every widget the issue lists.
func TestDashboard(t *testing.T) {
	s := defaults(t)
	_, d := s.byName(t, "AWS::CloudWatch::Dashboard", "DashboardName", DashboardName)
	body, _ := json.Marshal(d["DashboardBody"])
	for _, w := range DashboardQueries() {
		if !strings.Contains(string(body), w.Title) {
			t.Errorf("dashboard lacks %q", w.Title)
		}
	}
	for _, want := range []string{"Duration", "Errors", "Throttles", "ApproximateNumberOfMessagesVisible", decision.MetricDeliveryLag,
		`\"stat\":\"p50\"`, `\"stat\":\"p99\"`, decision.MetricPublishFailures, "Delivery lag"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("dashboard body lacks %s", want)
		}
	}
}

// Every field a Logs Insights query of the stack names (saved queries and
// dashboard widgets) exists in the records the Lambdas write: those of
// `make demo` (testdata/demo/decisions.jsonl, which the demo test keeps
// in step with the bootstraps), the publish-failure line, and the
// sweep summary.
func TestQueryFields(t *testing.T) {
	known := recordPaths(t)
	queries := map[string]string{}
	for _, q := range Queries(NamePrefix) {
		queries[q.Name] = q.String
	}
	for _, w := range DashboardQueries() {
		queries["dashboard/"+w.Title] = w.Query
	}
	for name, q := range queries {
		fields := QueryFields(q)
		if len(fields) == 0 {
			t.Errorf("%s: no field found", name)
		}
		for _, f := range fields {
			if !known[indexless(f)] {
				t.Errorf("%s: field %s is in no record the Lambdas write", name, f)
			}
		}
	}
	// The checker itself finds a misspelt field.
	if fs := QueryFields(`fields role_arn, outcom | filter msg = "decision"`); !slices.Contains(fs, "outcom") {
		t.Errorf("QueryFields missed a field: %v", fs)
	}
}

// Logs Insights keywords, functions and operators: not field names.
var insightsWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`fields filter stats sort limit display parse dedup as by and or not in like desc asc
		count sum avg min max pct bin latest earliest count_distinct strcontains ispresent isempty abs`) {
		insightsWords[w] = true
	}
}

var (
	// String literals, regular expressions and @-fields are not record
	// fields; backticks quote a field name with special characters.
	insightsSkip  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|/(?:[^/\\]|\\.)+/|@\w+`)
	insightsIdent = regexp.MustCompile("`[^`]+`|[A-Za-z_][\\w.-]*")
)

// QueryFields returns the record fields a Logs Insights query names,
// without keywords, functions, aliases (names after "as"), literals and
// @-fields. Numbers in dotted paths (findings.0.principal) are kept.
func QueryFields(q string) []string {
	q = insightsSkip.ReplaceAllString(q, " ")
	var out []string
	aliases := map[string]bool{}
	toks := insightsIdent.FindAllString(q, -1)
	for i, tok := range toks {
		if i > 0 && toks[i-1] == "as" {
			aliases[tok] = true
			continue
		}
		tok = strings.Trim(tok, "`")
		if insightsWords[tok] || aliases[tok] || regexp.MustCompile(`^\d+[a-z]*$`).MatchString(tok) {
			continue
		}
		// bin(1h): "h" after a number.
		if tok == "h" || tok == "m" || tok == "d" {
			continue
		}
		if !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out
}

// recordPaths returns every field path, as Logs Insights flattens JSON
// (a.b, arrays as a.0.b), of the records the Lambdas write.
func recordPaths(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open("../../testdata/demo/decisions.jsonl")
	if err != nil {
		t.Fatalf("the demo's records: %v", err)
	}
	defer f.Close()
	known := map[string]bool{}
	// The record's own fields, also those the demo's records leave out
	// (omitempty: error, reason, the lockdown policy's).
	b, err := decision.Record{Error: "e", Reason: "r", PolicyARN: "p", PolicyBefore: []byte("{}"), PolicyVersionAfter: "v1"}.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	json.Unmarshal(b, &rec)
	flatten("", rec, known)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	n := 0
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("record %d: %v", n+1, err)
		}
		flatten("", m, known)
		n++
	}
	if n == 0 {
		t.Fatal("no demo records")
	}
	return known
}

func flatten(prefix string, v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			flatten(join(prefix, k), e, out)
		}
	case []any:
		for i, e := range x {
			flatten(join(prefix, fmt.Sprint(i)), e, out)
		}
	}
	if prefix != "" {
		out[indexless(prefix)] = true
	}
}

// indexless replaces array indexes in a flattened path with "N": a query
// naming findings.2.principal names a field of every record with three
// findings.
func indexless(path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		if p != "" && strings.Trim(p, "0123456789") == "" {
			parts[i] = "N"
		}
	}
	return strings.Join(parts, ".")
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// The hub, where an organization's operators look, has the single-account
// stack's operations under its own prefix: the decision topic and rule
// (with notifyEmail), the heartbeat and lag alarms on its alarm topic, the
// dashboard over its log groups and publishing on its account's default
// bus, but never Security Hub findings (its records are the members', which
// an account cannot import). The member template, without functions, has
// none of them.
func TestHubOperations(t *testing.T) {
	for _, tc := range []struct {
		o     orgSynth
		email string
	}{{orgDefault(t), ""}, {orgConfigured(t), "platform@example.com"}} {
		h := tc.o.hub
		alarmTopic, _ := h.byName(t, "AWS::SNS::Topic", "TopicName", HubPrefix+"-Alarms")
		decisionTopic, _ := h.byName(t, "AWS::SNS::Topic", "TopicName", HubPrefix+"-"+decisionTopicSuffix)
		var subs []any
		for _, r := range h.resources("AWS::SNS::Subscription") {
			if p := r["Properties"].(map[string]any); jsonEqual(t, p["TopicArn"], ref(decisionTopic)) {
				subs = append(subs, p["Endpoint"])
			}
		}
		if tc.email == "" && len(subs) != 0 || tc.email != "" && !jsonEqual(t, subs, []any{tc.email}) {
			t.Errorf("hub decision subscriptions %v, want %q", subs, tc.email)
		}
		_, rule := h.byName(t, "AWS::Events::Rule", "Name", HubPrefix+"-"+decisionRuleSuffix)
		target := rule["Targets"].([]any)[0].(map[string]any)
		if rule["EventBusName"] != nil || !jsonEqual(t, target["Arn"], ref(decisionTopic)) {
			t.Errorf("hub decision rule on bus %v to %v: want the default bus, to the decision topic", rule["EventBusName"], target["Arn"])
		}
		tpl := target["InputTransformer"].(map[string]any)["InputTemplate"].(string)
		if !strings.Contains(tpl, HubPrefix+"/History of one role") {
			t.Errorf("hub message names another stack's saved query: %s", tpl)
		}
		for _, name := range []string{heartbeatAlarmSuffix, lagAlarmSuffix} {
			if _, a := h.byName(t, "AWS::CloudWatch::Alarm", "AlarmName", HubPrefix+"-"+name); !jsonEqual(t, a["AlarmActions"], []any{ref(alarmTopic)}) {
				t.Errorf("hub %s alarm actions %v", name, a["AlarmActions"])
			}
		}
		sweeperLogs, _ := h.byName(t, "AWS::Logs::LogGroup", "LogGroupName", "/aws/lambda/"+HubSweeperName)
		found := false
		for _, r := range h.resources("AWS::Logs::MetricFilter") {
			p := r["Properties"].(map[string]any)
			found = found || p["FilterPattern"] == SweepSummaryFilter && jsonEqual(t, p["LogGroupName"], ref(sweeperLogs))
		}
		if !found {
			t.Error("no sweep-summary metric filter on the hub sweeper's log group")
		}
		_, d := h.byName(t, "AWS::CloudWatch::Dashboard", "DashboardName", HubPrefix)
		body, _ := json.Marshal(d["DashboardBody"])
		enforcer, _ := h.byName(t, "AWS::Lambda::Function", "FunctionName", HubEnforcerName)
		for _, want := range []any{ref(enforcer), ref(sweeperLogs)} {
			if w, _ := json.Marshal(want); !strings.Contains(string(body), string(w)) {
				t.Errorf("hub dashboard does not show %s", w)
			}
		}
		for _, role := range []string{HubEnforcerName, HubSweeperName} {
			var put, findings int
			for _, st := range h.statements(t, role) {
				if slices.Contains(strs(st["Action"]), "events:PutEvents") &&
					jsonEqual(t, st["Condition"], map[string]any{"StringEquals": map[string]any{"events:source": publish.Source}}) {
					put++
				}
				if slices.Contains(strs(st["Action"]), "securityhub:BatchImportFindings") {
					findings++
				}
			}
			if put != 1 || findings != 0 {
				t.Errorf("%s: %d PutEvents statements, %d BatchImportFindings: want 1 and 0", role, put, findings)
			}
			_, fn := h.byName(t, "AWS::Lambda::Function", "FunctionName", role)
			env := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
			// (The product ARN of the members' findings: TestHubSecurityHub.)
			if env[publish.EnvEventBus] != "default" {
				t.Errorf("%s publishing environment %v", role, env)
			}
		}
		for _, typ := range []string{"AWS::CloudWatch::Dashboard", "AWS::CloudWatch::Alarm", "AWS::SNS::Topic", "AWS::Logs::MetricFilter"} {
			if n := len(tc.o.member.resources(typ)); n != 0 {
				t.Errorf("member template has %d %s", n, typ)
			}
		}
	}
}
