package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// rechecker sends an event back to the enforcer through the re-check queue
// after delay (README "Consistency"); *sqsRechecker is the real one.
type rechecker interface {
	Recheck(ctx context.Context, body []byte, delay time.Duration) error
}

// maxQueueDelay is SQS's longest message delay (SendMessage, DelaySeconds:
// 0 to 900; https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
// A re-check due later is sent again for the rest when it arrives.
const maxQueueDelay = 900 * time.Second

// sqsRechecker sends to one SQS queue.
type sqsRechecker struct {
	client   *sqs.Client
	queueURL string
}

// newSQSRechecker builds the SQS client from the SDK's default configuration
// chain (AWS_ENDPOINT_URL_SQS reaches a local stand-in).
func newSQSRechecker(ctx context.Context, queueURL string) (*sqsRechecker, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration for the re-check queue: %w", err)
	}
	return &sqsRechecker{client: sqs.NewFromConfig(cfg), queueURL: queueURL}, nil
}

// Recheck sends body with delay rounded up to whole seconds and capped at
// maxQueueDelay.
func (q *sqsRechecker) Recheck(ctx context.Context, body []byte, delay time.Duration) error {
	secs := int32(min(math.Ceil(max(delay, 0).Seconds()), maxQueueDelay.Seconds()))
	_, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(q.queueURL), MessageBody: aws.String(string(body)), DelaySeconds: secs,
	})
	if err != nil {
		return fmt.Errorf("send re-check to %s: %w", q.queueURL, err)
	}
	return nil
}
