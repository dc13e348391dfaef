package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/iamguardrail/guardrail/pkg/decision"
)

// The decision event's envelope (events/README.md documents the schema).
const (
	// Source is the decision events' source. Custom sources may not start
	// with "aws." (EventBridge reserves those), so no one can forge an
	// AWS event with it, and a rule on it matches only these events.
	Source = "iam-role-guardrail"
	// DetailType is the decision events' detail-type.
	DetailType = "Guardrail Decision"
)

// MaxEntrySize is EventBridge's limit on one PutEvents entry: 256 KB
// (Amazon EventBridge quotas, https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html;
// the entry must be less than it: "Calculating PutEvents event entry size",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html).
const MaxEntrySize = 256 * 1024

// TruncatedField is the member a trimmed event's detail carries: the names
// of the record fields left out to fit MaxEntrySize. The full record is in
// CloudWatch Logs (same event_id and role_arn).
const TruncatedField = "truncated_fields"

// trimOrder lists the record fields left out, in this order, until an
// event fits: the bulkiest first, what says what happened and how to undo
// it last.
var trimOrder = []string{"principals", "policy_before", "findings", "trust_policy_before", "trust_policy_after", "undo", "actions", "error", "reason"}

// EventsAPI is the EventBridge call Events makes; *eventbridge.Client
// satisfies it.
type EventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Events puts one event on an event bus for every decision record whose
// outcome is changed, would-change or error: the decisions someone should
// hear about. It does not buffer.
type Events struct {
	client EventsAPI
	bus    string
}

// NewEvents returns an Events publisher to bus (a name or ARN; "default"
// is the account's default bus).
func NewEvents(client EventsAPI, bus string) *Events { return &Events{client: client, bus: bus} }

// Notable reports whether a record is published as an event.
func Notable(rec decision.Record) bool {
	switch rec.Outcome {
	case decision.OutcomeChanged, decision.OutcomeWouldChange, decision.OutcomeError:
		return true
	}
	return false
}

// Publish puts rec's event, if it is Notable. A PutEvents answer that
// reports the entry failed is an error like a failed call.
func (e *Events) Publish(ctx context.Context, rec decision.Record) error {
	if !Notable(rec) {
		return nil
	}
	entry, err := Entry(rec)
	if err != nil {
		return err
	}
	entry.EventBusName = aws.String(e.bus)
	out, err := e.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{entry}})
	if err != nil {
		return fmt.Errorf("put decision event for %s: %w", subject(rec), err)
	}
	if out.FailedEntryCount > 0 {
		code, msg := "", ""
		if len(out.Entries) > 0 {
			code, msg = aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage)
		}
		return fmt.Errorf("put decision event for %s: entry failed: %s %s", subject(rec), code, msg)
	}
	return nil
}

// Flush does nothing: Events sends each event as it comes.
func (e *Events) Flush(context.Context) error { return nil }

// Entry builds rec's PutEvents entry (without the bus): as detail the
// record as its log line holds it plus its Notification (member
// NotificationField), the role (or policy) ARN as resource, and the detail
// trimmed to fit MaxEntrySize.
func Entry(rec decision.Record) (types.PutEventsRequestEntry, error) {
	detail, err := rec.JSON()
	if err != nil {
		return types.PutEventsRequestEntry{}, fmt.Errorf("decision event for %s: %w", subject(rec), err)
	}
	// The record's fields, then the readable notification.
	note, err := json.Marshal(Notify(rec))
	if err != nil {
		return types.PutEventsRequestEntry{}, fmt.Errorf("decision event for %s: %w", subject(rec), err)
	}
	detail = append(append(append(detail[:len(detail)-1:len(detail)-1], `,"`+NotificationField+`":`...), note...), '}')
	entry := types.PutEventsRequestEntry{Source: aws.String(Source), DetailType: aws.String(DetailType)}
	for _, r := range []string{rec.RoleARN, rec.PolicyARN} {
		if r != "" {
			entry.Resources = append(entry.Resources, r)
		}
	}
	if detail, err = trim(detail, MaxEntrySize-1-EntrySize(entry)); err != nil {
		return types.PutEventsRequestEntry{}, fmt.Errorf("decision event for %s: %w", subject(rec), err)
	}
	entry.Detail = aws.String(string(detail))
	return entry, nil
}

// EntrySize is an entry's size as EventBridge counts it: Time as 14 bytes
// when set, and the UTF-8 bytes of Source, DetailType, Detail and each
// resource ("Calculating PutEvents event entry size").
func EntrySize(e types.PutEventsRequestEntry) int {
	n := len(aws.ToString(e.Source)) + len(aws.ToString(e.DetailType)) + len(aws.ToString(e.Detail))
	if e.Time != nil {
		n += 14
	}
	for _, r := range e.Resources {
		n += len(r)
	}
	return n
}

// trim returns detail when it fits in limit bytes; otherwise it drops the
// fields of trimOrder one by one until it fits and names them in
// TruncatedField. A detail that does not fit even then is an error.
func trim(detail []byte, limit int) ([]byte, error) {
	if len(detail) <= limit {
		return detail, nil
	}
	var fields []field
	if err := decodeOrdered(detail, &fields); err != nil {
		return nil, err
	}
	var dropped []string
	for _, name := range trimOrder {
		i := slices.IndexFunc(fields, func(f field) bool { return f.key == name })
		if i < 0 {
			continue
		}
		fields = slices.Delete(fields, i, i+1)
		dropped = append(dropped, name)
		out := encodeOrdered(fields, dropped)
		if len(out) <= limit {
			return out, nil
		}
	}
	return nil, fmt.Errorf("detail of %d bytes does not fit in %d even without %v", len(detail), limit, dropped)
}

type field struct {
	key   string
	value json.RawMessage
}

// decodeOrdered reads a JSON object's members in order.
func decodeOrdered(b []byte, out *[]field) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("decode detail: %w", err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("decode detail: %w", err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("decode detail: %w", err)
		}
		*out = append(*out, field{key: tok.(string), value: raw})
	}
	return nil
}

func encodeOrdered(fields []field, dropped []string) []byte {
	buf := []byte{'{'}
	for i, f := range fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		k, _ := json.Marshal(f.key)
		buf = append(append(append(buf, k...), ':'), f.value...)
	}
	d, _ := json.Marshal(dropped)
	k, _ := json.Marshal(TruncatedField)
	if len(fields) > 0 {
		buf = append(buf, ',')
	}
	buf = append(append(append(buf, k...), ':'), d...)
	return append(buf, '}')
}

// subject names what a record is about, for error messages.
func subject(rec decision.Record) string {
	switch {
	case rec.RoleARN != "":
		return rec.RoleARN
	case rec.PolicyARN != "":
		return rec.PolicyARN
	case rec.RoleName != "":
		return "role " + rec.RoleName
	}
	return "event " + rec.EventID
}
