package sqstest

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// post sends one raw JSON-protocol request.
func post(t *testing.T, url, target, contentType, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("response is not JSON: %q", b)
	}
	return resp.StatusCode, resp.Header, out
}

func jsonBody(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSendMessageWire checks SendMessage's answers over the wire: what it
// accepts, and each refusal with SQS's status, __type, query code and message.
func TestSendMessageWire(t *testing.T) {
	srv := NewServer(newClock().Now)
	defer srv.Close()
	const ct = "application/x-amz-json-1.0"
	big := strings.Repeat("a", MaxMessageBytes)
	tests := []struct {
		name, target, contentType string
		body                      map[string]any
		rawBody                   string
		status                    int
		typ, query, msg           string // for errors; msg is a substring
	}{
		{name: "accepted", body: map[string]any{"QueueUrl": srv.QueueURL, "MessageBody": "hello", "DelaySeconds": 36}, status: 200},
		{name: "no delay", body: map[string]any{"QueueUrl": srv.QueueURL, "MessageBody": "hello"}, status: 200},
		{name: "largest delay", body: map[string]any{"QueueUrl": srv.QueueURL, "MessageBody": "x", "DelaySeconds": 900}, status: 200},
		{name: "largest body", body: map[string]any{"QueueUrl": srv.QueueURL, "MessageBody": big}, status: 200},
		{name: "body one byte too long", body: map[string]any{"QueueUrl": srv.QueueURL, "MessageBody": big + "a"}, status: 400,
			typ: "com.amazonaws.sqs#InvalidParameterValue", query: "InvalidParameterValue;Sender", msg: "Message must be shorter than 1048576 bytes."},
		{name: "delay 901", body: map[string]any{"QueueUrl": srv.QueueURL, "MessageBody": "x", "DelaySeconds": 901}, status: 400,
			typ: "com.amazonaws.sqs#InvalidParameterValue", query: "InvalidParameterValue;Sender",
			msg: "Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."},
		{name: "negative delay", body: map[string]any{"QueueUrl": srv.QueueURL, "MessageBody": "x", "DelaySeconds": -1}, status: 400,
			typ: "com.amazonaws.sqs#InvalidParameterValue", query: "InvalidParameterValue;Sender", msg: "Value -1 for parameter DelaySeconds"},
		{name: "fractional delay", body: map[string]any{"QueueUrl": srv.QueueURL, "MessageBody": "x", "DelaySeconds": 1.5}, status: 400,
			typ: "com.amazon.coral.service#SerializationException", query: "SerializationException;Sender"},
		{name: "other queue", body: map[string]any{"QueueUrl": srv.URL + "/111122223333/other", "MessageBody": "x"}, status: 400,
			typ: "com.amazonaws.sqs#QueueDoesNotExist", query: "AWS.SimpleQueueService.NonExistentQueue;Sender", msg: "The specified queue does not exist."},
		{name: "no queue", body: map[string]any{"MessageBody": "x"}, status: 400,
			typ: "com.amazonaws.sqs#MissingParameter", query: "MissingParameter;Sender", msg: "parameter QueueUrl"},
		{name: "no body", body: map[string]any{"QueueUrl": srv.QueueURL}, status: 400,
			typ: "com.amazonaws.sqs#MissingParameter", query: "MissingParameter;Sender", msg: "parameter MessageBody"},
		{name: "empty body", body: map[string]any{"QueueUrl": srv.QueueURL, "MessageBody": ""}, status: 400,
			typ: "com.amazonaws.sqs#MissingParameter", query: "MissingParameter;Sender", msg: "parameter MessageBody"},
		{name: "control character", body: map[string]any{"QueueUrl": srv.QueueURL, "MessageBody": "a\x01b"}, status: 400,
			typ: "com.amazonaws.sqs#InvalidMessageContents", query: "InvalidMessageContents;Sender", msg: "'#x1'"},
		{name: "non-character U+FFFF", body: map[string]any{"QueueUrl": srv.QueueURL, "MessageBody": "a\uffffb"}, status: 400,
			typ: "com.amazonaws.sqs#InvalidMessageContents", query: "InvalidMessageContents;Sender", msg: "'#xFFFF'"},
		{name: "tab, newline and astral plane allowed", body: map[string]any{"QueueUrl": srv.QueueURL, "MessageBody": "a\tb\r\n\U0001F600\ufffd"}, status: 200},
		{name: "message attributes not served", body: map[string]any{"QueueUrl": srv.QueueURL, "MessageBody": "x", "MessageAttributes": map[string]any{}}, status: 400,
			typ: "com.amazonaws.sqs#UnsupportedOperation", query: "AWS.SimpleQueueService.UnsupportedOperation;Sender", msg: "MessageAttributes"},
		{name: "not JSON", rawBody: "QueueUrl=x", status: 400,
			typ: "com.amazon.coral.service#SerializationException", query: "SerializationException;Sender"},
		{name: "unknown target", target: "AmazonSQS.PurgeQueue", body: map[string]any{"QueueUrl": srv.QueueURL}, status: 400,
			typ: "com.amazonaws.sqs#InvalidAction", query: "InvalidAction;Sender", msg: "The action PurgeQueue is not valid for this endpoint."},
		{name: "other service's target", target: "AWSEvents.PutEvents", body: map[string]any{}, status: 400,
			typ: "com.amazonaws.sqs#InvalidAction", query: "InvalidAction;Sender", msg: "AWSEvents.PutEvents"},
		{name: "query protocol", contentType: "application/x-www-form-urlencoded", rawBody: "Action=SendMessage", status: 400,
			typ: "com.amazonaws.sqs#InvalidAction", query: "InvalidAction;Sender", msg: "AWS JSON 1.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.target
			if target == "" {
				target = "AmazonSQS.SendMessage"
			}
			contentType := tc.contentType
			if contentType == "" {
				contentType = ct
			}
			body := tc.rawBody
			if body == "" {
				body = jsonBody(t, tc.body)
			}
			before := srv.Stats()
			status, h, out := post(t, srv.URL, target, contentType, body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, out)
			}
			if h.Get("x-amzn-RequestId") == "" {
				t.Error("no request ID")
			}
			after := srv.Stats()
			if tc.status == 200 {
				sum := md5.Sum([]byte(tc.body["MessageBody"].(string)))
				if out["MD5OfMessageBody"] != hex.EncodeToString(sum[:]) || out["MessageId"] == "" {
					t.Errorf("answer %v", out)
				}
				if after.Sent != before.Sent+1 || after.Refused != before.Refused {
					t.Errorf("stats %+v -> %+v", before, after)
				}
				return
			}
			if out["__type"] != tc.typ || h.Get("x-amzn-query-error") != tc.query || !strings.Contains(out["message"].(string), tc.msg) {
				t.Errorf("error __type %v, query %q, message %q; want %s, %s, %q", out["__type"], h.Get("x-amzn-query-error"), out["message"], tc.typ, tc.query, tc.msg)
			}
			if after.Sent != before.Sent || after.Refused != before.Refused+1 {
				t.Errorf("stats %+v -> %+v", before, after)
			}
		})
	}
	if got := srv.Stats().MaxDelay; got != 900*time.Second {
		t.Errorf("MaxDelay %v, want 15m", got)
	}
}

// TestSDKClient sends through the real aws-sdk-go-v2 SQS client, which
// validates MD5OfMessageBody, and reads its refusals as typed errors.
func TestSDKClient(t *testing.T) {
	clock := newClock()
	srv := NewServer(clock.Now, WithQueue("444455556666", "IamRoleGuardrail-Recheck"))
	defer srv.Close()
	if srv.QueueURL != srv.URL+"/444455556666/IamRoleGuardrail-Recheck" || srv.QueueARN != "arn:aws:sqs:us-east-1:444455556666:IamRoleGuardrail-Recheck" {
		t.Fatalf("queue %s %s", srv.QueueURL, srv.QueueARN)
	}
	client := sqs.NewFromConfig(aws.Config{
		Region: Region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSQSTEST", "secret", ""),
		Retryer:     func() aws.Retryer { return retry.AddWithMaxAttempts(retry.NewStandard(), 1) },
	})
	ctx := context.Background()
	event := `{"version":"0","id":"6f1c","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","detail":{"eventName":"CreateRole","requestParameters":{"roleName":"app"}}}`
	out, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(srv.QueueURL), MessageBody: aws.String(event), DelaySeconds: 36})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].Body != event || msgs[0].ID != aws.ToString(out.MessageId) || msgs[0].Delay != 36*time.Second {
		t.Fatalf("queue holds %+v after %+v", msgs, out)
	}

	for _, tc := range []struct {
		name string
		in   *sqs.SendMessageInput
		code string
	}{
		{"delay above 900", &sqs.SendMessageInput{QueueUrl: aws.String(srv.QueueURL), MessageBody: aws.String("x"), DelaySeconds: 901}, "InvalidParameterValue"},
		{"unknown queue", &sqs.SendMessageInput{QueueUrl: aws.String(srv.URL + "/444455556666/nope"), MessageBody: aws.String("x")}, "AWS.SimpleQueueService.NonExistentQueue"},
		{"body too large", &sqs.SendMessageInput{QueueUrl: aws.String(srv.QueueURL), MessageBody: aws.String(strings.Repeat("é", MaxMessageBytes/2+1))}, "InvalidParameterValue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.SendMessage(ctx, tc.in)
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
				t.Errorf("error %v, want code %s", err, tc.code)
			}
		})
	}

	// A stand-in that answered a wrong digest would fail the SDK's check:
	// prove the check is live by corrupting the answer once.
	bad := &http.Client{Transport: rewriteMD5{http.DefaultTransport}}
	_, err = client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(srv.QueueURL), MessageBody: aws.String("y")},
		func(o *sqs.Options) { o.HTTPClient = bad })
	if err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("SendMessage with a wrong MD5OfMessageBody: %v, want the SDK's checksum error", err)
	}
}

// rewriteMD5 replaces MD5OfMessageBody in a SendMessage answer.
type rewriteMD5 struct{ next http.RoundTripper }

func (r rewriteMD5) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if json.Unmarshal(b, &m) == nil {
		m["MD5OfMessageBody"] = "00000000000000000000000000000000"
		b, _ = json.Marshal(m)
	}
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// TestDeliveryLifecycle plays the event-source mapping with a clock the
// test moves: a delayed message is not due before its delay, a received one
// is hidden for the visibility timeout and comes back unless deleted, and
// after MaxReceiveCount receives it moves to the dead letters.
func TestDeliveryLifecycle(t *testing.T) {
	clock := newClock()
	srv := NewServer(clock.Now, WithMaxReceiveCount(3))
	defer srv.Close()
	send := func(body string, delay int) {
		t.Helper()
		status, _, out := post(t, srv.URL, "AmazonSQS.SendMessage", "application/x-amz-json-1.0",
			jsonBody(t, map[string]any{"QueueUrl": srv.QueueURL, "MessageBody": body, "DelaySeconds": delay}))
		if status != 200 {
			t.Fatalf("send %s: %d %v", body, status, out)
		}
	}
	send("handled", 36)
	send("failing", 36)
	send("later", 100)
	const visibility = 30 * time.Second

	clock.Add(35 * time.Second)
	if got := srv.Receive(10, visibility); len(got) != 0 {
		t.Fatalf("received %d messages before their delay", len(got))
	}
	clock.Add(time.Second)
	got := srv.Receive(10, visibility)
	if len(got) != 2 || got[0].Body != "handled" || got[1].Body != "failing" || got[0].ReceiveCount != 1 {
		t.Fatalf("at 36s received %+v", got)
	}
	ev := srv.Event(got...)
	if len(ev.Records) != 2 || ev.Records[0].MessageId != got[0].ID || ev.Records[0].Body != "handled" ||
		ev.Records[0].Attributes["ApproximateReceiveCount"] != "1" || ev.Records[0].EventSource != "aws:sqs" ||
		ev.Records[0].EventSourceARN != srv.QueueARN || ev.Records[0].AWSRegion != "us-east-1" || ev.Records[0].ReceiptHandle != got[0].ReceiptHandle {
		t.Errorf("event %+v", ev)
	}
	if err := srv.Delete(got[0].ReceiptHandle); err != nil {
		t.Fatal(err)
	}
	if err := srv.Delete(got[0].ReceiptHandle); err == nil {
		t.Error("a deleted message's handle was accepted again")
	}
	failing := got[1]
	if srv.Pending() != 2 {
		t.Errorf("pending %d, want 2 (failing in flight, later delayed)", srv.Pending())
	}
	if got := srv.Receive(10, visibility); len(got) != 0 {
		t.Fatalf("received %+v while hidden", got)
	}
	// Two more receives after each visibility timeout, never deleted.
	for n := 2; n <= 3; n++ {
		clock.Add(visibility)
		got := srv.Receive(1, visibility)
		if len(got) != 1 || got[0].ID != failing.ID || got[0].ReceiveCount != n {
			t.Fatalf("receive %d: %+v", n, got)
		}
		if err := srv.Delete(failing.ReceiptHandle); err == nil {
			t.Errorf("receive %d: the first receive's handle still deletes", n)
		}
	}
	// A shortened visibility timeout brings it back sooner; an old
	// handle cannot change it.
	if err := srv.ChangeVisibility(failing.ReceiptHandle, 0); err == nil {
		t.Error("an earlier receive's handle changed the visibility")
	}
	if err := srv.ChangeVisibility("x", MaxVisibility+time.Second); err == nil {
		t.Error("a visibility above 12 hours was accepted")
	}
	clock.Add(visibility) // now 126s: "later" is due too
	got = srv.Receive(10, visibility)
	if len(got) != 1 || got[0].Body != "later" {
		t.Fatalf("after three receives: %+v", got)
	}
	dead := srv.DeadLetters()
	if len(dead) != 1 || dead[0].ID != failing.ID || dead[0].ReceiveCount != 3 {
		t.Errorf("dead letters %+v", dead)
	}
	if err := srv.Delete(got[0].ReceiptHandle); err != nil {
		t.Fatal(err)
	}
	want := Stats{Sent: 3, Received: 5, Deleted: 2, Redriven: 1, MaxDelay: 100 * time.Second}
	if st := srv.Stats(); st != want || srv.Pending() != 0 {
		t.Errorf("stats %+v pending %d, want %+v and 0", st, srv.Pending(), want)
	}
}

// TestChangeVisibility: a received message comes back when its changed
// visibility timeout ends, counted from the change.
func TestChangeVisibility(t *testing.T) {
	clock := newClock()
	srv := NewServer(clock.Now)
	defer srv.Close()
	status, _, _ := post(t, srv.URL, "AmazonSQS.SendMessage", "application/x-amz-json-1.0",
		jsonBody(t, map[string]any{"QueueUrl": srv.QueueURL, "MessageBody": "m"}))
	if status != 200 {
		t.Fatal(status)
	}
	got := srv.Receive(1, time.Hour)
	if len(got) != 1 {
		t.Fatal(got)
	}
	clock.Add(10 * time.Second)
	if err := srv.ChangeVisibility(got[0].ReceiptHandle, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Second)
	if again := srv.Receive(1, time.Hour); len(again) != 0 {
		t.Fatalf("visible 1s after a 2s change: %+v", again)
	}
	clock.Add(time.Second)
	again := srv.Receive(1, time.Hour)
	if len(again) != 1 || again[0].ReceiveCount != 2 {
		t.Fatalf("not visible again 2s after the change: %+v", again)
	}
	if err := srv.ChangeVisibility(got[0].ReceiptHandle, 0); err == nil {
		t.Error("the first receive's handle still changes the visibility")
	}
}
