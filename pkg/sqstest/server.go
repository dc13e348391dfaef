// Package sqstest provides a local Amazon SQS endpoint with one standard
// queue, shaped like net/http/httptest: NewServer starts it, URL is its
// address, Close stops it.
//
// The enforcer schedules each re-check of a trust-policy event by sending
// the event to a delay queue (SendMessage with DelaySeconds), and Lambda's
// event-source mapping delivers it back once the delay has passed. This
// stand-in serves the sending half over the wire, as the real
// aws-sdk-go-v2 SQS client speaks it (the AWS JSON 1.0 protocol); the
// delivering half is a Go API, because locally the caller plays the
// event-source mapping: Receive takes the messages that are due (hiding each
// for a visibility timeout, counting its receives), Delete removes a handled
// one, ChangeVisibility shortens or extends a received one's timeout, Event wraps messages in the events.SQSEvent Lambda would pass the
// function, and a message received MaxReceiveCount times and still not
// deleted moves to the dead letters (a redrive policy), as SQS does.
//
// Time comes from the clock given to NewServer, so tests decide when a
// delayed message becomes due without sleeping.
package sqstest

import (
	"cmp"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// SQS's documented limits that SendMessage enforces.
const (
	// MaxDelaySeconds is the longest per-message delay: "Valid values: 0 to
	// 900. Maximum: 15 minutes" (Amazon SQS API Reference, SendMessage,
	// DelaySeconds; https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
	MaxDelaySeconds = 900
	// MaxMessageBytes is the largest message: 1 MiB since SQS raised it from
	// 256 KiB (AWS Compute Blog, "More room to build: serverless services now
	// support payloads up to 1 MB",
	// https://aws.amazon.com/blogs/compute/more-room-to-build-serverless-services-now-support-payloads-up-to-1-mb;
	// Amazon SQS Developer Guide, "Amazon SQS message quotas",
	// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html;
	// the queue attribute MaximumMessageSize now ranges from 1,024 to
	// 1,048,576 bytes). A queue may be configured lower; this one is not.
	MaxMessageBytes = 1 << 20
)

// Defaults of the queue NewServer creates.
const (
	DefaultAccount   = "111122223333"
	DefaultQueueName = "recheck"
	// Region is the region the queue's ARN and the SQS events name: the
	// guardrail deploys to us-east-1 only.
	Region = "us-east-1"
)

// Server is a running SQS stand-in with one standard queue.
type Server struct {
	// URL is the endpoint, e.g. http://127.0.0.1:40123 (AWS_ENDPOINT_URL_SQS).
	URL string
	// QueueURL is the queue's URL, <URL>/<account>/<name>, the value
	// SendMessage's QueueUrl must name.
	QueueURL string
	// QueueARN is the queue's ARN, the eventSourceARN of its SQS events.
	QueueARN string

	hs              *httptest.Server
	now             func() time.Time
	maxReceiveCount int

	mu       sync.Mutex
	queue    []*entry // not yet deleted nor redriven, in send order
	dead     []Message
	stats    Stats
	requests uint64
}

// entry is one message in the queue.
type entry struct {
	msg     Message
	visible time.Time // when a Receive may take it
}

// Message is one message as the queue holds it.
type Message struct {
	// ID is the MessageId SendMessage returned.
	ID string
	// Body is the message body exactly as sent; MD5 its hex MD5 digest.
	Body, MD5 string
	// Sent is when SendMessage accepted it; Delay its DelaySeconds.
	Sent  time.Time
	Delay time.Duration
	// ReceiptHandle names the latest receive (Delete takes it);
	// ReceiveCount counts receives; FirstReceive is the first one's time.
	ReceiptHandle string
	ReceiveCount  int
	FirstReceive  time.Time
}

// Stats counts what the queue did.
type Stats struct {
	// Sent counts accepted SendMessage calls; Refused the calls answered
	// with an error (of any action).
	Sent, Refused int
	// Received counts receives of messages (a message received three times
	// counts three), Deleted the deletes, Redriven the messages moved to
	// the dead letters.
	Received, Deleted, Redriven int
	// MaxDelay is the longest DelaySeconds of an accepted message.
	MaxDelay time.Duration
}

// Option configures a Server.
type Option func(*Server)

// WithQueue names the queue's account and name.
func WithQueue(account, name string) Option {
	return func(s *Server) { s.QueueARN = "arn:aws:sqs:" + Region + ":" + account + ":" + name }
}

// WithMaxReceiveCount gives the queue a redrive policy: a message received
// n times and still not deleted moves to the dead letters instead of being
// received again. 0 (the default) keeps messages until they are deleted.
func WithMaxReceiveCount(n int) Option {
	return func(s *Server) { s.maxReceiveCount = n }
}

// NewServer starts a stand-in whose queue reads the time from clock (nil:
// time.Now).
func NewServer(clock func() time.Time, opts ...Option) *Server {
	if clock == nil {
		clock = time.Now
	}
	s := &Server{now: clock}
	WithQueue(DefaultAccount, DefaultQueueName)(s)
	for _, o := range opts {
		o(s)
	}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.hs.URL
	parts := strings.Split(s.QueueARN, ":")
	s.QueueURL = s.URL + "/" + parts[4] + "/" + parts[5]
	return s
}

// Close stops the server.
func (s *Server) Close() { s.hs.Close() }

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Pending is the number of messages neither deleted nor redriven: delayed,
// visible, or received and not deleted yet.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Messages returns a copy of every pending message, in send order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.queue))
	for i, e := range s.queue {
		out[i] = e.msg
	}
	return out
}

// DeadLetters returns the messages the redrive policy moved out, in the
// order they moved.
func (s *Server) DeadLetters() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.dead)
}

// Receive takes up to max messages that are visible now, oldest first, and
// hides each for visibility: until then no other Receive returns it, and
// afterwards it is received again unless it was deleted. A message already
// received MaxReceiveCount times moves to the dead letters instead.
func (s *Server) Receive(max int, visibility time.Duration) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []Message
	kept := s.queue[:0]
	for _, e := range s.queue {
		if len(out) >= max || e.visible.After(now) {
			kept = append(kept, e)
			continue
		}
		if s.maxReceiveCount > 0 && e.msg.ReceiveCount >= s.maxReceiveCount {
			// "When the ReceiveCount for a message exceeds the
			// maxReceiveCount for a queue, Amazon SQS moves the message to
			// a dead-letter queue" (Amazon SQS Developer Guide, "Using
			// dead-letter queues in Amazon SQS").
			e.msg.ReceiptHandle = ""
			s.dead = append(s.dead, e.msg)
			s.stats.Redriven++
			continue
		}
		e.msg.ReceiveCount++
		if e.msg.ReceiveCount == 1 {
			e.msg.FirstReceive = now
		}
		e.msg.ReceiptHandle = fmt.Sprintf("%s#%d", e.msg.ID, e.msg.ReceiveCount)
		e.visible = now.Add(visibility)
		s.stats.Received++
		out = append(out, e.msg)
		kept = append(kept, e)
	}
	clear(s.queue[len(kept):])
	s.queue = kept
	return out
}

// Delete removes the message whose latest receive receiptHandle names. A
// handle of an earlier receive, or of a deleted message, is refused, like
// SQS's ReceiptHandleIsInvalid.
func (s *Server) Delete(receiptHandle string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.queue {
		if e.msg.ReceiptHandle != "" && e.msg.ReceiptHandle == receiptHandle {
			s.queue = slices.Delete(s.queue, i, i+1)
			s.stats.Deleted++
			return nil
		}
	}
	return fmt.Errorf("delete message: receipt handle %q is not valid (ReceiptHandleIsInvalid)", receiptHandle)
}

// MaxVisibility is the longest visibility timeout: 12 hours (Amazon SQS
// API Reference, ChangeMessageVisibility, VisibilityTimeout 0 to 43,200 s).
const MaxVisibility = 12 * time.Hour

// ChangeVisibility hides the received message that receiptHandle names
// for d from now, as ChangeMessageVisibility does ("the new timeout period
// takes effect from the time you call" it; 0 makes it visible at once).
// An earlier receive's handle, a deleted message and a d outside 0–12 h are
// refused.
func (s *Server) ChangeVisibility(receiptHandle string, d time.Duration) error {
	if d < 0 || d > MaxVisibility {
		return fmt.Errorf("change message visibility: %v is outside 0-12h (InvalidParameterValue)", d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.queue {
		if e.msg.ReceiptHandle != "" && e.msg.ReceiptHandle == receiptHandle {
			e.visible = s.now().Add(d)
			return nil
		}
	}
	return fmt.Errorf("change message visibility: receipt handle %q is not valid (ReceiptHandleIsInvalid)", receiptHandle)
}

// Event wraps received messages in the event Lambda's event-source
// mapping passes the function (Lambda Developer Guide, "Using Lambda with
// Amazon SQS", example standard queue message event).
func (s *Server) Event(msgs ...Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		attrs := map[string]string{
			"ApproximateReceiveCount": strconv.Itoa(m.ReceiveCount),
			"SentTimestamp":           strconv.FormatInt(m.Sent.UnixMilli(), 10),
			"SenderId":                "AROAGUARDRAILENFORCER:enforcer",
		}
		if !m.FirstReceive.IsZero() {
			attrs["ApproximateFirstReceiveTimestamp"] = strconv.FormatInt(m.FirstReceive.UnixMilli(), 10)
		}
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: m.ID, ReceiptHandle: m.ReceiptHandle, Body: m.Body, Md5OfBody: m.MD5,
			Attributes: attrs, EventSource: "aws:sqs", EventSourceARN: s.QueueARN, AWSRegion: Region,
		})
	}
	return ev
}

// serve answers one request of the AWS JSON 1.0 protocol: a POST with
// X-Amz-Target AmazonSQS.<Action> and a JSON body.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	reqID := fmt.Sprintf("00000000-0000-4000-8000-%012x", s.requests)
	s.mu.Unlock()
	w.Header().Set("x-amzn-RequestId", reqID)
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.0") {
		// SQS also serves the older query protocol; this stand-in serves
		// only what aws-sdk-go-v2 speaks, so anything else is refused.
		s.fail(w, errInvalidAction("this endpoint serves only the AWS JSON 1.0 protocol (POST, Content-Type application/x-amz-json-1.0)"))
		return
	}
	action, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if !ok || action != "SendMessage" {
		s.fail(w, errInvalidAction(fmt.Sprintf("The action %s is not valid for this endpoint.", cmp.Or(action, r.Header.Get("X-Amz-Target")))))
		return
	}
	// The request is read whole, with room for the largest message and
	// its JSON escaping; a larger one cannot be a valid SendMessage.
	body, err := io.ReadAll(io.LimitReader(r.Body, 8*MaxMessageBytes))
	if err != nil {
		s.fail(w, &apiError{status: http.StatusBadRequest, typ: "com.amazon.coral.service#SerializationException", query: "SerializationException;Sender", msg: "cannot read the request: " + err.Error()})
		return
	}
	out, aerr := s.sendMessage(body)
	if aerr != nil {
		s.fail(w, aerr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(out)
}

// sendMessageInput holds the members of SendMessage this stand-in serves.
type sendMessageInput struct {
	QueueURL     *string `json:"QueueUrl"`
	MessageBody  *string `json:"MessageBody"`
	DelaySeconds *int64  `json:"DelaySeconds"`
}

type sendMessageOutput struct {
	MD5OfMessageBody string `json:"MD5OfMessageBody"`
	MessageID        string `json:"MessageId"`
}

// served are the SendMessage members this stand-in understands; a request
// with any other (message attributes, FIFO group and deduplication IDs) is
// refused rather than half-served.
var served = []string{"QueueUrl", "MessageBody", "DelaySeconds"}

func (s *Server) sendMessage(body []byte) (*sendMessageOutput, *apiError) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, &apiError{status: http.StatusBadRequest, typ: "com.amazon.coral.service#SerializationException", query: "SerializationException;Sender",
			msg: "the request body is not a JSON object: " + err.Error()}
	}
	for k := range raw {
		if !slices.Contains(served, k) {
			return nil, &apiError{status: http.StatusBadRequest, typ: "com.amazonaws.sqs#UnsupportedOperation", query: "AWS.SimpleQueueService.UnsupportedOperation;Sender",
				msg: "the SQS stand-in does not serve SendMessage's " + k}
		}
	}
	var in sendMessageInput
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &apiError{status: http.StatusBadRequest, typ: "com.amazon.coral.service#SerializationException", query: "SerializationException;Sender",
			msg: "cannot decode SendMessage: " + err.Error()}
	}
	switch {
	case in.QueueURL == nil || *in.QueueURL == "":
		return nil, errMissing("QueueUrl")
	case *in.QueueURL != s.QueueURL:
		return nil, &apiError{status: http.StatusBadRequest, typ: "com.amazonaws.sqs#QueueDoesNotExist", query: "AWS.SimpleQueueService.NonExistentQueue;Sender",
			msg: "The specified queue does not exist."}
	case in.MessageBody == nil || *in.MessageBody == "":
		// "The minimum size is one character" (SendMessage, MessageBody).
		return nil, errMissing("MessageBody")
	case len(*in.MessageBody) > MaxMessageBytes:
		return nil, errInvalidValue(fmt.Sprintf("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", MaxMessageBytes))
	}
	if bad, ok := invalidCharacter(*in.MessageBody); ok {
		return nil, &apiError{status: http.StatusBadRequest, typ: "com.amazonaws.sqs#InvalidMessageContents", query: "InvalidMessageContents;Sender",
			msg: fmt.Sprintf("Invalid binary character '#x%X' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF", bad)}
	}
	var delay int64
	if in.DelaySeconds != nil {
		delay = *in.DelaySeconds
	}
	if delay < 0 || delay > MaxDelaySeconds {
		return nil, errInvalidValue(fmt.Sprintf("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= %d.", delay, MaxDelaySeconds))
	}

	sum := md5.Sum([]byte(*in.MessageBody))
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.stats.Sent++
	m := Message{
		ID:    fmt.Sprintf("5c0e7e57-0000-4000-8000-%012x", s.stats.Sent),
		Body:  *in.MessageBody,
		MD5:   hex.EncodeToString(sum[:]),
		Sent:  now,
		Delay: time.Duration(delay) * time.Second,
	}
	s.stats.MaxDelay = max(s.stats.MaxDelay, m.Delay)
	s.queue = append(s.queue, &entry{msg: m, visible: now.Add(m.Delay)})
	return &sendMessageOutput{MD5OfMessageBody: m.MD5, MessageID: m.ID}, nil
}

// invalidCharacter returns the first rune outside the characters a message
// may hold: "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000
// to #x10FFFF. Any characters not included in this list will be rejected"
// (SendMessage, MessageBody). Invalid UTF-8 is refused too (reported as
// U+FFFD); a real U+FFFD is allowed.
func invalidCharacter(body string) (rune, bool) {
	for i, r := range body {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(body[i:]); size == 1 {
				return r, true
			}
		}
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return r, true
		}
	}
	return 0, false
}

// apiError is an SQS error as the JSON protocol carries it: the HTTP
// status, the body's __type and message, and the x-amzn-query-error header
// (code;fault) that query-compatible clients such as aws-sdk-go-v2's SQS
// client read the error code from.
type apiError struct {
	status     int
	typ, query string
	msg        string
}

func errMissing(param string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "com.amazonaws.sqs#MissingParameter", query: "MissingParameter;Sender",
		msg: "The request must contain the parameter " + param + "."}
}

func errInvalidValue(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "com.amazonaws.sqs#InvalidParameterValue", query: "InvalidParameterValue;Sender", msg: msg}
}

func errInvalidAction(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "com.amazonaws.sqs#InvalidAction", query: "InvalidAction;Sender", msg: msg}
}

func (s *Server) fail(w http.ResponseWriter, e *apiError) {
	s.mu.Lock()
	s.stats.Refused++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-query-error", e.query)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.typ, "message": e.msg})
}
