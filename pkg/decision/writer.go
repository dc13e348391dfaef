package decision

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Writer writes decision records: each as one JSON log line (Record.Log)
// and, when it has a metrics namespace, its embedded-metric line
// (EmitMetrics). It is the one writer of both Lambdas and `guardrail scan`.
type Writer struct {
	log       *slog.Logger
	metrics   io.Writer
	namespace string
}

// NewWriter returns a Writer to out (a Lambda's stdout). namespace is the
// CloudWatch namespace of the metrics; "" writes no metrics (`guardrail
// scan`, which runs outside Lambda).
func NewWriter(out io.Writer, namespace string) *Writer {
	return &Writer{log: NewLogger(out), metrics: out, namespace: namespace}
}

// Logger returns the writer's logger, for the lines that are not decision
// records (configuration, summaries).
func (w *Writer) Logger() *slog.Logger { return w.log }

// Write logs rec and writes its metrics. Losing a data point must not lose
// the event: the record is already written, so a metrics failure is logged
// as an ERROR line and Write carries on.
func (w *Writer) Write(ctx context.Context, rec Record) {
	rec.Log(ctx, w.log)
	if w.namespace == "" {
		return
	}
	if err := EmitMetrics(w.metrics, w.namespace, rec); err != nil {
		w.log.LogAttrs(ctx, slog.LevelError, "metrics", slog.String("error", err.Error()),
			slog.String("event_id", rec.EventID), slog.String("role_arn", rec.RoleARN))
	}
}

// DeliveryLag is received minus the CloudTrail event time in milliseconds:
// how long the role was exposed before the guardrail saw the change
// (Record.DeliveryLagMS). Nil when either time is unknown.
func DeliveryLag(eventTime, received time.Time) *int64 {
	if eventTime.IsZero() || received.IsZero() {
		return nil
	}
	ms := received.Sub(eventTime).Milliseconds()
	return &ms
}

// JSONAttrs returns the members of v's JSON encoding, an object, as slog
// attributes in their order, each value its JSON text: a plain-data struct
// (the sweep summary) is logged at the top level under its JSON names
// without listing its fields a second time.
func JSONAttrs(v any) ([]slog.Attr, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%T does not encode as a JSON object", v)
	}
	var attrs []slog.Attr
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("decode %T: %w", v, err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("decode %T: %w", v, err)
		}
		attrs = append(attrs, slog.Any(tok.(string), raw))
	}
	return attrs, nil
}
