package decision_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/pkg/decision"
)

type fakePublisher struct {
	published []decision.Record
	flushes   int
	err       error
}

func (f *fakePublisher) Publish(_ context.Context, rec decision.Record) error {
	f.published = append(f.published, rec)
	return f.err
}

func (f *fakePublisher) Flush(context.Context) error { f.flushes++; return f.err }

// Writer logs the record first, then publishes it; a publishing failure
// is a WARN line and one PublishFailures data point, never lost silently
// and never an error of the write.
func TestWriterPublishes(t *testing.T) {
	for _, fail := range []bool{false, true} {
		var out bytes.Buffer
		p := &fakePublisher{}
		if fail {
			p.err = errors.New("PutEvents: no route")
		}
		w := decision.NewWriter(&out, "NS", decision.WithPublisher(p))
		w.Write(context.Background(), sample())
		w.Flush(context.Background())
		if len(p.published) != 1 || p.published[0].RoleARN != sample().RoleARN || p.flushes != 1 {
			t.Fatalf("published %d records, %d flushes", len(p.published), p.flushes)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		var first map[string]any
		json.Unmarshal([]byte(lines[0]), &first)
		if first["msg"] != decision.Message {
			t.Errorf("first line is not the record: %s", lines[0])
		}
		warns, failures := 0, 0
		for _, l := range lines {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("not JSON: %s", l)
			}
			if m["msg"] == decision.PublishMessage && m["level"] == "WARN" && strings.Contains(m["error"].(string), "no route") {
				warns++
			}
			if v, ok := m[decision.MetricPublishFailures].(float64); ok && v == 1 {
				failures++
			}
		}
		want := 0
		if fail {
			want = 2 // the write and the flush
		}
		if warns != want || failures != want {
			t.Errorf("fail=%v: %d warnings, %d failure data points; want %d", fail, warns, failures, want)
		}
	}
}

// A record's JSON is the log line without msg, level and timestamp.
func TestRecordJSON(t *testing.T) {
	var line bytes.Buffer
	sample().Log(context.Background(), decision.NewLogger(&line))
	var logged map[string]any
	json.Unmarshal(line.Bytes(), &logged)
	delete(logged, "msg")
	delete(logged, "level")
	delete(logged, "timestamp")
	b, err := sample().JSON()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	x, _ := json.Marshal(got)
	y, _ := json.Marshal(logged)
	if string(x) != string(y) {
		t.Errorf("JSON\n%s\nlog line\n%s", x, y)
	}
}
