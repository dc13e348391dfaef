package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iamguardrail/guardrail/lambdas/emulator"
	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/sqstest"
)

// The enforcer's re-check queue, as `make chaos` runs it (issue 19): the
// enforcer sends each trust-policy event it has evaluated once to an SQS
// delay queue, and the event-source mapping delivers it back when the delay
// has passed.
const (
	// envSQSEndpoint points the enforcer's SQS client at the stand-in the
	// standard way (config.EnvRecheckQueueURL names the queue).
	envSQSEndpoint = "AWS_ENDPOINT_URL_SQS"
	// recheckMaxReceives is the queue's redrive policy: a re-check received
	// this many times without success goes to the dead-letter queue, whose
	// alarm pages (infra/stack recheck.go); here, to the failure-queue file.
	recheckMaxReceives = 3
	// recheckQueueName is the queue's name in the stack.
	recheckQueueName = sandbox.NamePrefix + "-Recheck"
	// recheckInFlight hides a delivered re-check for six times the enforcer
	// emulators' function timeout (demo.start's default, 60 s), as the
	// stack's queue does: Lambda requires the visibility timeout to be at
	// least the function's timeout, so a re-check is never delivered again
	// while its invocation runs (one the emulator stops at its timeout
	// returns a moment after it). Settling ends the wait early.
	recheckInFlight = 6 * 60 * time.Second
)

// recheckQueue plays Lambda's SQS event-source mapping in front of the
// enforcer emulators: it takes the re-checks the enforcers sent to the
// stand-in once they are due, delivers each as an events.SQSEvent of one
// record, honours the partial batch response, and lets a failed one come
// back after a visibility timeout, up to recheckMaxReceives times. Time is
// compressed as for Lambda's asynchronous retries (--retry-backoff): a
// failed re-check comes back `visibility` after its invocation ended, where
// the stack's queue makes it wait six times the function timeout from the
// receive.
type recheckQueue struct {
	srv        *sqstest.Server
	visibility time.Duration

	mu          sync.Mutex
	invocations int               // invocations with an SQS event
	failed      int               // invocations whose record failed
	lastError   map[string]string // message ID -> why its last delivery failed
}

func newRecheckQueue(visibility time.Duration) *recheckQueue {
	return &recheckQueue{
		srv:        sqstest.NewServer(nil, sqstest.WithQueue(sandbox.Account, recheckQueueName), sqstest.WithMaxReceiveCount(recheckMaxReceives)),
		visibility: visibility,
		lastError:  map[string]string{},
	}
}

// setEnv gives the enforcers the queue, as the stack does.
func (q *recheckQueue) setEnv(env map[string]string) {
	env[config.EnvRecheckQueueURL] = q.srv.QueueURL
	env[envSQSEndpoint] = q.srv.URL
}

func (q *recheckQueue) close() { q.srv.Close() }

// take returns the delivery of one due re-check, or nil when none is due.
func (q *recheckQueue) take() (*delivery, error) {
	msgs := q.srv.Receive(1, recheckInFlight)
	if len(msgs) == 0 {
		return nil, nil
	}
	body, err := json.Marshal(q.srv.Event(msgs...))
	if err != nil {
		return nil, fmt.Errorf("encode SQS event: %w", err)
	}
	return &delivery{due: time.Now(), op: -1, recheck: &msgs[0], attempt: msgs[0].ReceiveCount - 1, body: body}, nil
}

// settle records the outcome of delivering m: a record the function handled
// is deleted; one it failed stays in the queue and comes back after the
// visibility timeout (or goes to the dead letters). invokeErr is the
// invocation's error: nil or a *emulator.FunctionError is an outcome, any
// other (the emulator failed) is returned.
//
// Lambda reads the response as a partial batch response
// (ReportBatchItemFailures): a null or empty response, or an empty
// batchItemFailures list, is complete success; the record fails when its
// message ID is listed, when the response is not valid JSON, or when an
// itemIdentifier is empty, null or not a message of the batch (which fails
// the whole batch); a function error fails the whole batch (Lambda
// Developer Guide, "Handling errors for an SQS event source in Lambda",
// https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
func (q *recheckQueue) settle(m sqstest.Message, resp []byte, invokeErr error) error {
	why := ""
	var fe *emulator.FunctionError
	switch {
	case errors.As(invokeErr, &fe):
		why = fe.Message
	case invokeErr != nil:
		return invokeErr
	default:
		why = batchFailure(resp, m.ID)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.invocations++
	if why != "" {
		q.failed++
		q.lastError[m.ID] = why
		if err := q.srv.ChangeVisibility(m.ReceiptHandle, q.visibility); err != nil {
			// Only if the invocation outlasted recheckInFlight, which the
			// emulator's timeout prevents: the message is visible already.
			q.lastError[m.ID] = why + "; " + err.Error()
		}
		return nil
	}
	delete(q.lastError, m.ID)
	if err := q.srv.Delete(m.ReceiptHandle); err != nil {
		// The handle is stale only if recheckInFlight ran out during the
		// invocation, which the emulator's timeout prevents: the message
		// was received again and its later delivery settles it (Lambda's
		// delete fails the same way).
		q.lastError[m.ID] = err.Error()
	}
	return nil
}

// batchFailure says why a partial batch response fails the record with
// message ID id, or "" when it succeeds.
func batchFailure(resp []byte, id string) string {
	var r *struct {
		BatchItemFailures []struct {
			ItemIdentifier *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if len(resp) == 0 {
		return ""
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return fmt.Sprintf("the response is not a partial batch response: %v", err)
	}
	if r == nil {
		return ""
	}
	for _, f := range r.BatchItemFailures {
		switch {
		case f.ItemIdentifier == nil || *f.ItemIdentifier == "":
			return "the partial batch response has an empty itemIdentifier"
		case *f.ItemIdentifier != id:
			return fmt.Sprintf("the partial batch response names %q, not a message of the batch", *f.ItemIdentifier)
		default:
			return "the function reported the record in batchItemFailures"
		}
	}
	return ""
}

// recheckStats is what the report says of the re-checks.
type recheckStats struct {
	// Scheduled counts the re-checks the enforcers sent, Delivered those
	// handled (deleted), Redriven those moved to the dead letters after
	// recheckMaxReceives failed deliveries; Invocations counts deliveries,
	// Failed the failed ones; Refused counts SendMessage calls refused.
	Scheduled, Delivered, Redriven int
	Invocations, Failed, Refused   int
	MaxDelay                       time.Duration
}

func (q *recheckQueue) stats() recheckStats {
	st := q.srv.Stats()
	q.mu.Lock()
	defer q.mu.Unlock()
	return recheckStats{Scheduled: st.Sent, Delivered: st.Deleted, Redriven: st.Redriven,
		Invocations: q.invocations, Failed: q.failed, Refused: st.Refused, MaxDelay: st.MaxDelay}
}

// failures returns the re-checks the redrive policy moved to the dead
// letters, as failure-queue entries: the event is the message body, the
// EventBridge event the enforcer received.
func (q *recheckQueue) failures() []failureEntry {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []failureEntry
	for _, m := range q.srv.DeadLetters() {
		var ev events.CloudWatchEvent
		var detail struct {
			EventName         string `json:"eventName"`
			EventID           string `json:"eventID"`
			RequestParameters struct {
				RoleName string `json:"roleName"`
			} `json:"requestParameters"`
		}
		if json.Unmarshal([]byte(m.Body), &ev) == nil {
			_ = json.Unmarshal(ev.Detail, &detail)
		}
		out = append(out, failureEntry{Role: detail.RequestParameters.RoleName, API: "re-check of " + detail.EventName, EventID: detail.EventID,
			Attempts: m.ReceiveCount, Error: q.lastError[m.ID], Event: rawJSON(m.Body)})
	}
	slices.SortFunc(out, func(a, b failureEntry) int { return strings.Compare(a.EventID, b.EventID) })
	return out
}

// rawJSON keeps a message body that is JSON as it is, and quotes any other.
func rawJSON(body string) json.RawMessage {
	if json.Valid([]byte(body)) {
		return json.RawMessage(body)
	}
	b, _ := json.Marshal(body)
	return b
}
