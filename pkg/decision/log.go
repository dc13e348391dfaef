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

// Attrs returns the record's fields as slog attributes, named and ordered
// by the Record's JSON struct tags (the one list of its field names), with
// times in UTC, empty lists as [] and unknown values as null.
func (r Record) Attrs() []slog.Attr {
	r.EventTime = r.EventTime.UTC()
	if r.RevokedSessionsBefore != nil {
		t := r.RevokedSessionsBefore.UTC()
		r.RevokedSessionsBefore = &t
	}
	if r.RecheckAt != nil {
		t := r.RecheckAt.UTC()
		r.RecheckAt = &t
	}
	r.Principals, r.Findings, r.Actions, r.Undo = nonNil(r.Principals), nonNil(r.Findings), nonNil(r.Actions), nonNil(r.Undo)
	r.TrustPolicyBefore, r.TrustPolicyAfter, r.PolicyBefore = rawOrNil(r.TrustPolicyBefore), rawOrNil(r.TrustPolicyAfter), rawOrNil(r.PolicyBefore)
	attrs, err := JSONAttrs(r)
	if err != nil {
		// Only a document that is not JSON gets here; the line still
		// says which record it was and why it is incomplete.
		return []slog.Attr{slog.String("event_id", r.EventID), slog.String("role_name", r.RoleName),
			slog.String("outcome", string(r.Outcome)), slog.String("error", err.Error())}
	}
	for i, a := range attrs {
		if a.Key == "event_time" && r.EventTime.IsZero() {
			attrs[i].Value = slog.AnyValue(nil)
		}
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

// rawOrNil returns nil for an empty document, which encodes as null (or
// is omitted); a json.RawMessage of length zero would be invalid JSON.
func rawOrNil(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return nil
	}
	return m
}
