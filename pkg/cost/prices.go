package cost

// Prices in US dollars for us-east-1, the only region the stack deploys to
// (infra/stack.RequiredRegion). Every figure was read on 2026-12-03 from the
// stored copy of the page named beside it (the search tool's "pages" and
// "docs" corpora; no live page could be fetched). Where the AWS page itself
// was not among the stored copies, the comment says which secondary page
// gave the figure: treat those as unconfirmed and re-check them against
// the AWS page before quoting them.
const (
	// PricesRead is the date the prices below were read.
	PricesRead = "2026-12-03"
	// PricesRegion is the region the prices are for.
	PricesRegion = "us-east-1"

	// HoursPerMonth is the month AWS prorates hourly charges over
	// (730 h = 365 days × 24 h ÷ 12).
	HoursPerMonth = 730.0

	// LambdaPerMillionRequests: $0.20 per 1M requests, both architectures.
	// https://aws.amazon.com/lambda/pricing/ (stored copy lists the duration
	// tables but not this figure); the figure from
	// https://cloudchipr.com/blog/aws-lambda-pricing and the Lambda cost
	// notes in git.mcrn.ar/mariano/lambda_local_runner (both read 2026-12-03).
	LambdaPerMillionRequests = 0.20
	// LambdaArmPerGBSecond: Arm (Graviton2) duration price, first 7.5
	// billion GB-s a month, us-east-1: $0.0000133334 per GB-second.
	// https://aws.amazon.com/lambda/pricing/ (Arm tab not in the stored
	// copy); figure from https://cloudchipr.com/blog/aws-lambda-pricing.
	// Custom runtimes (provided.al2023) are billed for the init phase too
	// (https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/).
	LambdaArmPerGBSecond = 0.0000133334

	// LogsIngestionPerGB: CloudWatch Logs Standard ingestion, $0.50 per GB.
	// Lambda logs are priced as vended logs since 2025-05-01, whose first
	// tier is the same $0.50 (https://www.duckbillgroup.com/?p=9080).
	// https://aws.amazon.com/cloudwatch/pricing/ (Logs tab not in the
	// stored copy); figure from https://c3x.dev/blog/cloudwatch-logs-cost-optimization.
	LogsIngestionPerGB = 0.50
	// LogsStoragePerGBMonth: CloudWatch Logs archival storage, $0.03 per
	// GB-month. Same pages as LogsIngestionPerGB. The estimate charges it
	// on the uncompressed bytes, an upper bound.
	LogsStoragePerGBMonth = 0.03

	// MetricPerMonth: custom metrics, first 10,000 metrics, $0.30 per
	// metric-month; each combination of namespace, name and dimension
	// values is one metric. Charges are prorated by the hour and metered
	// only for hours in which the metric receives data (the issue and
	// https://www.vantage.sh/blog/cloudwatch-metrics-pricing-explained-in-plain-english;
	// not confirmed from the AWS page). https://aws.amazon.com/cloudwatch/pricing/
	// (Metrics tab not in the stored copy); figure from
	// https://c3x.dev/blog/aws-cloudwatch-metrics-cost/. Metrics that AWS
	// services publish (AWS/Lambda, AWS/SQS) cost nothing
	// (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics.html).
	MetricPerMonth = 0.30
	// AlarmPerMonth: a standard-resolution metric alarm, $0.10 per alarm
	// metric-month. https://aws.amazon.com/cloudwatch/pricing/ (Alarms tab
	// not in the stored copy); figure from
	// https://c3x.dev/resources/aws/aws_cloudwatch_metric_alarm.
	AlarmPerMonth = 0.10

	// KMSKeyPerMonth: each customer managed key, $1/month prorated hourly;
	// with automatic rotation each new backing key adds $1/month
	// (https://aws.amazon.com/kms/pricing/, read 2026-12-03). Since April
	// 2024 the added charge stops growing after the second rotation ("a new
	// limit on the price of all symmetric keys that have had two or more
	// rotations", https://aws.amazon.com/blogs/security/the-curious-case-of-faster-aws-kms-symmetric-key-rotation/).
	KMSKeyPerMonth = 1.00
	// KMSMaxBilledRotations is that limit: at most two rotations are billed.
	KMSMaxBilledRotations = 2
	// KMSPer10kRequests: $0.03 per 10,000 requests after 20,000 free a
	// month (https://aws.amazon.com/kms/pricing/). The alarm topic makes a
	// request only when an alarm publishes.
	KMSPer10kRequests = 0.03

	// SNSPerMillionPublishes: standard topics, $0.50 per 1M requests after
	// the first 1M free; e-mail deliveries $2.00 per 100,000 after 1,000
	// free. https://aws.amazon.com/sns/pricing/ was not among the stored
	// copies; figures from https://www.factualminds.com/blog/amazon-sns-pricing-publishes-fanout-protocols/.
	SNSPerMillionPublishes = 0.50
	SNSPer100kEmails       = 2.00

	// EventBridgePerMillionCrossAccount: events delivered to an event bus in
	// another account, $1.00 per million. Events that AWS services publish
	// to the default bus (CloudTrail's "AWS API Call via CloudTrail",
	// schedules) are free. https://aws.amazon.com/eventbridge/pricing/ was
	// not among the stored copies; figures from
	// https://cloudburn.io/blog/amazon-eventbridge-pricing and
	// https://www.factualminds.com/blog/amazon-eventbridge-pricing-events-pipes-schema-archive/.
	EventBridgePerMillionCrossAccount = 1.00

	// SQSPerMillionRequests: standard queues, $0.40 per 1M requests after
	// 1M free a month. The dead-letter queues receive a request only when
	// an event fails; the re-check queue is polled all the time (cost.go,
	// RecheckPolling). Figure as commonly published; the AWS page
	// (https://aws.amazon.com/sqs/pricing/) was not among the stored copies.
	SQSPerMillionRequests = 0.40

	// ConfigPerItem: AWS Config continuous recording, $0.003 per
	// configuration item recorded; ConfigPerEvaluation: a Config rule
	// evaluation, $0.001 each for the first 100,000 a month.
	// https://aws.amazon.com/config/pricing/ was not among the stored
	// copies; figures from https://www.vantage.sh/blog/aws-config-pricing
	// and https://cloudgauge.app/blog/governance-cost-trap.html.
	ConfigPerItem       = 0.003
	ConfigPerEvaluation = 0.001
)
