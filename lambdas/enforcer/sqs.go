package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iamguardrail/guardrail/pkg/cloudtrail"
)

// Invoke is the function's entry point. EventBridge invokes it with one
// CloudTrail event (Handle); the re-check queue's event-source mapping with
// a batch of events sent back by sendRecheck (HandleRecheck), whose answer
// lists the messages to deliver again (ReportBatchItemFailures). A payload
// that is neither fails, as the typed handler did: Lambda's retries and the
// failure queue keep it.
func (h *handler) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
	}
	if json.Unmarshal(raw, &probe) == nil && len(probe.Records) > 0 && probe.Records[0].EventSource == "aws:sqs" {
		var batch events.SQSEvent
		if err := json.Unmarshal(raw, &batch); err != nil {
			return nil, fmt.Errorf("decode the re-check batch: %w", err)
		}
		return h.HandleRecheck(ctx, batch), nil
	}
	var ev events.CloudWatchEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("decode the event: %w", err)
	}
	return nil, h.Handle(ctx, ev)
}

// HandleRecheck evaluates each re-check of a batch from the re-check queue
// (README "Consistency"): the event again, with Recheck set, so the engine
// settles from a read made after IAM's consistency window. A message that
// arrives before its re-check is due (a window longer than SQS's 15-minute
// delay allows) is sent again for the rest. Failed evaluations are listed
// for redelivery; the queue moves a message that keeps failing to its
// dead-letter queue, whose alarm pages. A message that is not an event is
// logged as ignored and acknowledged: no retry can make it usable.
func (h *handler) HandleRecheck(ctx context.Context, batch events.SQSEvent) events.SQSEventResponse {
	var resp events.SQSEventResponse
	for _, m := range batch.Records {
		var ev events.CloudWatchEvent
		if err := json.Unmarshal([]byte(m.Body), &ev); err != nil {
			h.ignore(ctx, cloudtrail.Change{}, h.now(), fmt.Sprintf("re-check message %s is not an EventBridge event: %v", m.MessageId, err))
			continue
		}
		var err error
		change, derr := cloudtrail.Decode(ev)
		if due := h.engine.RecheckDue(change.EventTime); derr == nil && h.now().Before(due) {
			err = h.sendRecheck(ctx, ev, due.Sub(h.now()))
		} else {
			err = h.handle(ctx, ev, true)
		}
		if err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp
}
