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

// Publisher sends decision records beyond the log: EventBridge events,
// Security Hub findings (pkg/publish). Publish may buffer; Flush sends what
// is buffered. Both are called by one goroutine at a time.
type Publisher interface {
	Publish(ctx context.Context, rec Record) error
	Flush(ctx context.Context) error
}

// PublishMessage is the slog message of the line Writer logs when
// publishing fails.
const PublishMessage = "publish failed"

// Writer writes decision records: each as one JSON log line (Record.Log)
// and, when it has a metrics namespace, its embedded-metric line
// (EmitMetrics), then hands it to its Publisher, if any. It is the one
// writer of both Lambdas and `guardrail scan`.
type Writer struct {
	log       *slog.Logger
	metrics   io.Writer
	namespace string
	pub       Publisher
}

// WriterOption changes a Writer's defaults.
type WriterOption func(*Writer)

// WithPublisher makes the Writer publish every record it writes through p
// after logging it. A failure to publish never fails the write: the record
// in the log is the source of truth; the failure is logged at WARN level
// (PublishMessage) and counted in MetricPublishFailures.
func WithPublisher(p Publisher) WriterOption { return func(w *Writer) { w.pub = p } }

// NewWriter returns a Writer to out (a Lambda's stdout). namespace is the
// CloudWatch namespace of the metrics; "" writes no metrics (`guardrail
// scan`, which runs outside Lambda).
func NewWriter(out io.Writer, namespace string, opts ...WriterOption) *Writer {
	w := &Writer{log: NewLogger(out), metrics: out, namespace: namespace}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Logger returns the writer's logger, for the lines that are not decision
// records (configuration, summaries).
func (w *Writer) Logger() *slog.Logger { return w.log }

// Write logs rec and writes its metrics. Losing a data point must not lose
// the event: the record is already written, so a metrics failure is logged
// as an ERROR line and Write carries on. Then it publishes rec.
func (w *Writer) Write(ctx context.Context, rec Record) {
	rec.Log(ctx, w.log)
	if w.namespace != "" {
		if err := EmitMetrics(w.metrics, w.namespace, rec); err != nil {
			w.log.LogAttrs(ctx, slog.LevelError, "metrics", slog.String("error", err.Error()),
				slog.String("event_id", rec.EventID), slog.String("role_arn", rec.RoleARN))
		}
	}
	if w.pub != nil {
		w.published(ctx, w.pub.Publish(ctx, rec), rec.EventID, rec.RoleARN)
	}
}

// Flush sends what the publisher buffered; the handlers call it once at
// the end of every invocation. Failures are handled as in Write.
func (w *Writer) Flush(ctx context.Context) {
	if w.pub != nil {
		w.published(ctx, w.pub.Flush(ctx), "", "")
	}
}

// published logs and counts a publishing failure.
func (w *Writer) published(ctx context.Context, err error, eventID, roleARN string) {
	if err == nil {
		return
	}
	w.log.LogAttrs(ctx, slog.LevelWarn, PublishMessage, slog.String("error", err.Error()),
		slog.String("event_id", eventID), slog.String("role_arn", roleARN))
	if w.namespace == "" {
		return
	}
	root := map[string]any{MetricPublishFailures: 1, "event_id": eventID, "role_arn": roleARN}
	if err := writeEMF(w.metrics, w.namespace, root, []emfMetric{{Name: publishFailures.Name, Unit: publishFailures.Unit}}, time.Now()); err != nil {
		w.log.LogAttrs(ctx, slog.LevelError, "metrics", slog.String("error", err.Error()))
	}
}

// JSON returns the record as the JSON object its log line holds (the same
// names, order and null/[] conventions, without the line's msg, level and
// timestamp): the detail of a decision event.
func (r Record) JSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, a := range r.Attrs() {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(a.Key)
		buf.Write(k)
		buf.WriteByte(':')
		v, err := json.Marshal(a.Value.Any())
		if err != nil {
			return nil, fmt.Errorf("encode record field %s: %w", a.Key, err)
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
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
