package decision

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"time"
)

// NewLogger returns a logger that writes one JSON object per line to w, as
// Lambda's JSON log format expects from an OS-only runtime: Lambda passes
// lines that are already JSON through unchanged and filters on their "level"
// key. slog's "time" key is renamed "timestamp" and written in UTC RFC 3339,
// the key Lambda's own JSON records use (aws-facts.md §4: whether "time" is
// recognised is undocumented, "timestamp" is the safe choice).
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
				return slog.String("timestamp", a.Value.Time().UTC().Format(time.RFC3339Nano))
			}
			return a
		},
	}))
}

// Log writes r as one JSON line with message "decision": every field of the
// record at the top level, at level ERROR when the outcome is an error (so a
// Lambda log-level filter or a metric filter on level catches it) and INFO
// otherwise. Empty lists are written as [] and unknown values as null, so
// every field always has one JSON type for saved queries.
func (r Record) Log(ctx context.Context, l *slog.Logger) {
	level := slog.LevelInfo
	if r.Outcome == OutcomeError {
		level = slog.LevelError
	}
	l.LogAttrs(ctx, level, Message, r.Attrs()...)
}

// Attrs returns the record's fields as slog attributes in a fixed order,
// with the JSON names of the Record struct tags.
func (r Record) Attrs() []slog.Attr {
	var eventTime slog.Value
	if r.EventTime.IsZero() {
		eventTime = slog.AnyValue(nil)
	} else {
		eventTime = slog.StringValue(r.EventTime.UTC().Format(time.RFC3339Nano))
	}
	var revoked slog.Value = slog.AnyValue(nil)
	if r.RevokedSessionsBefore != nil {
		revoked = slog.StringValue(r.RevokedSessionsBefore.UTC().Format(time.RFC3339))
	}
	var lag slog.Value = slog.AnyValue(nil)
	if r.DeliveryLagMS != nil {
		lag = slog.Int64Value(*r.DeliveryLagMS)
	}
	attrs := []slog.Attr{
		slog.String("event_id", r.EventID),
		slog.String("event_name", r.EventName),
		{Key: "event_time", Value: eventTime},
		slog.String("actor", r.Actor),
		slog.String("account", r.Account),
		slog.String("role_arn", r.RoleARN),
		slog.String("role_name", r.RoleName),
		slog.String("role_path", r.RolePath),
		slog.String("class", r.Class),
		slog.String("class_reason", r.ClassReason),
		slog.Any("mode", r.Mode),
		slog.String("outcome", string(r.Outcome)),
		slog.Any("principals", nonNil(r.Principals)),
		slog.Any("findings", nonNil(r.Findings)),
		slog.Any("actions", nonNil(r.Actions)),
		slog.Any("trust_policy_before", rawOrNull(r.TrustPolicyBefore)),
		slog.Any("trust_policy_after", rawOrNull(r.TrustPolicyAfter)),
		slog.String("lockdown", string(r.Lockdown)),
		{Key: "revoked_sessions_before", Value: revoked},
		slog.Any("undo", nonNil(r.Undo)),
		slog.Bool("read_consistent", r.ReadConsistent),
		slog.Int("stale_reads", r.StaleReads),
		{Key: "delivery_lag_ms", Value: lag},
		slog.Int64("duration_ms", r.DurationMS),
		slog.Int("api_calls", r.APICalls),
		slog.String("version", r.Version),
	}
	if r.Error != "" {
		attrs = append(attrs, slog.String("error", r.Error))
	}
	if r.PolicyARN != "" {
		attrs = append(attrs, slog.String("policy_arn", r.PolicyARN))
	}
	if len(r.PolicyBefore) > 0 {
		attrs = append(attrs, slog.Any("policy_before", json.RawMessage(r.PolicyBefore)))
	}
	if r.PolicyVersionAfter != "" {
		attrs = append(attrs, slog.String("policy_version_after", r.PolicyVersionAfter))
	}
	if r.Reason != "" {
		attrs = append(attrs, slog.String("reason", r.Reason))
	}
	return attrs
}

// nonNil makes an empty list log as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// rawOrNull returns nil for an empty document so the handler writes null;
// a json.RawMessage of length zero would be invalid JSON.
func rawOrNull(m []byte) any {
	if len(m) == 0 {
		return nil
	}
	return json.RawMessage(m)
}
