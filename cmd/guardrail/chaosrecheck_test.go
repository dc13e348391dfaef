package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/iamguardrail/guardrail/lambdas/emulator"
	"github.com/iamguardrail/guardrail/pkg/config"
)

// fakeEnforcer answers SQS events by the role their record's event names,
// as a function with ReportBatchItemFailures would.
type fakeEnforcer struct {
	mu       sync.Mutex
	received map[string][]events.SQSMessage // role -> the records delivered, in order
	bad      []string                       // what was wrong with a delivered event
}

func (f *fakeEnforcer) Invoke(_ context.Context, event []byte) ([]byte, error) {
	var ev events.SQSEvent
	if err := json.Unmarshal(event, &ev); err != nil || len(ev.Records) != 1 {
		f.note(fmt.Sprintf("not an SQS event of one record: %s", event))
		return nil, &emulator.FunctionError{Type: "Bad", Message: "bad event"}
	}
	rec := ev.Records[0]
	if rec.EventSource != "aws:sqs" || rec.EventSourceARN != "arn:aws:sqs:us-east-1:111122223333:IamRoleGuardrail-Recheck" ||
		rec.AWSRegion != "us-east-1" || rec.MessageId == "" || rec.ReceiptHandle == "" {
		f.note(fmt.Sprintf("record %+v", rec))
	}
	role := roleOf(rec.Body)
	f.mu.Lock()
	f.received[role] = append(f.received[role], rec)
	n := len(f.received[role])
	f.mu.Unlock()
	if rec.Attributes["ApproximateReceiveCount"] != strconv.Itoa(n) {
		f.note(fmt.Sprintf("%s delivery %d has ApproximateReceiveCount %s", role, n, rec.Attributes["ApproximateReceiveCount"]))
	}
	failed, _ := json.Marshal(events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: rec.MessageId}}})
	switch {
	case role == "flaky" && n < 3, role == "reported":
		return failed, nil
	case role == "crashing":
		return nil, &emulator.FunctionError{Type: "Runtime.ExitError", Message: "transient failure evaluating role crashing"}
	case role == "garbled":
		return []byte(`{"batchItemFailures":[{"itemIdentifier":""}]}`), nil
	case role == "ok-empty":
		return []byte(`{"batchItemFailures":[]}`), nil
	}
	return []byte("null"), nil // what a handler returning only an error answers
}

func (f *fakeEnforcer) note(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bad = append(f.bad, s)
}

func roleOf(body string) string {
	var ev events.CloudWatchEvent
	var d struct {
		RequestParameters struct {
			RoleName string `json:"roleName"`
		} `json:"requestParameters"`
	}
	if json.Unmarshal([]byte(body), &ev) != nil || json.Unmarshal(ev.Detail, &d) != nil {
		return ""
	}
	return d.RequestParameters.RoleName
}

// TestRecheckDelivery drives the harness's event-source mapping without the
// enforcer: re-checks sent to the stand-in with the real SQS client (as the
// enforcer sends them) are delivered as SQS events when due, a record the
// function fails comes back until its third receive and then goes to the
// failure queue, and the run waits for a delayed re-check before it ends.
func TestRecheckDelivery(t *testing.T) {
	rq := newRecheckQueue(20 * time.Millisecond)
	defer rq.close()
	env := map[string]string{}
	rq.setEnv(env)
	if env[config.EnvRecheckQueueURL] != rq.srv.QueueURL || env[envSQSEndpoint] != rq.srv.URL {
		t.Fatalf("enforcer environment %v", env)
	}
	client := sqs.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(env[envSQSEndpoint]),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDCHAOS", "secret", "")})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sent := map[string]string{}
	roles := []string{"ok", "ok-empty", "flaky", "reported", "crashing", "garbled", "late"}
	for i, role := range roles {
		ev := chaosEvent(chaosOp{API: "UpdateAssumeRolePolicy", Role: role, Trust: `{"Version":"2012-10-17","Statement":[]}`}, i, 9, time.Now())
		body, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		delay := int32(0)
		if role == "late" {
			delay = 1
		}
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(env[config.EnvRecheckQueueURL]), MessageBody: aws.String(string(body)), DelaySeconds: delay}); err != nil {
			t.Fatal(err)
		}
		sent[role] = string(body)
	}

	fake := &fakeEnforcer{received: map[string][]events.SQSMessage{}}
	r := &chaosRun{rq: rq, produced: true}
	r.cond = sync.NewCond(&r.mu)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.worker(ctx, fake)
		}()
	}
	wg.Wait()
	if r.fatal != nil || ctx.Err() != nil {
		t.Fatalf("run: %v %v", r.fatal, ctx.Err())
	}
	for _, b := range fake.bad {
		t.Error(b)
	}
	wantDeliveries := map[string]int{"ok": 1, "ok-empty": 1, "flaky": 3, "reported": 3, "crashing": 3, "garbled": 3, "late": 1}
	for role, n := range wantDeliveries {
		recs := fake.received[role]
		if len(recs) != n {
			t.Errorf("%s delivered %d times, want %d", role, len(recs), n)
			continue
		}
		for _, rec := range recs {
			if rec.Body != sent[role] || rec.MessageId != recs[0].MessageId {
				t.Errorf("%s: record %+v is not the message sent", role, rec)
			}
		}
	}
	if rq.srv.Pending() != 0 {
		t.Errorf("%d re-checks still pending when the run ended", rq.srv.Pending())
	}
	want := recheckStats{Scheduled: 7, Delivered: 4, Redriven: 3, Invocations: 15, Failed: 11, MaxDelay: time.Second}
	if got := rq.stats(); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	fails := rq.failures()
	if len(fails) != 3 {
		t.Fatalf("failure entries %+v", fails)
	}
	wantErr := map[string]string{
		"reported": "the function reported the record in batchItemFailures",
		"crashing": "transient failure evaluating role crashing",
		"garbled":  "the partial batch response has an empty itemIdentifier",
	}
	for _, f := range fails {
		if f.Error != wantErr[f.Role] || f.Attempts != 3 || f.API != "re-check of UpdateAssumeRolePolicy" || string(f.Event) != sent[f.Role] || f.EventID == "" {
			t.Errorf("failure entry %+v", f)
		}
	}
	if r.invocations != 15 || len(r.durations) != 15 {
		t.Errorf("%d invocations, %d durations", r.invocations, len(r.durations))
	}
}

// TestBatchFailure reads partial batch responses as Lambda does.
func TestBatchFailure(t *testing.T) {
	const id = "5c0e7e57-0000-4000-8000-000000000001"
	for _, tc := range []struct {
		resp string
		fail bool
	}{
		{"", false},
		{"null", false},
		{"{}", false},
		{`{"batchItemFailures":null}`, false},
		{`{"batchItemFailures":[]}`, false},
		{`{"batchItemFailures":[{"itemIdentifier":"` + id + `"}]}`, true},
		{`{"batchItemFailures":[{"itemIdentifier":""}]}`, true},
		{`{"batchItemFailures":[{"itemIdentifier":null}]}`, true},
		{`{"batchItemFailures":[{"messageId":"` + id + `"}]}`, true},
		{`{"batchItemFailures":[{"itemIdentifier":"another"}]}`, true},
		{`not json`, true},
	} {
		if got := batchFailure([]byte(tc.resp), id); (got != "") != tc.fail {
			t.Errorf("%s: %q, want failure %v", tc.resp, got, tc.fail)
		}
	}
}
