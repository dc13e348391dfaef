// Package publish sends decision records beyond CloudWatch Logs, where
// operators already look: an EventBridge event for every decision that
// changed a role, would change one or failed (Events), and AWS Security Hub
// findings, one per role and control (Findings). Both satisfy
// decision.Publisher, which decision.Writer calls after logging a record:
// the record in the log stays the source of truth, and a failure to publish
// never fails an evaluation.
package publish

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/member"
)

// Environment variables the stack sets for both functions. Unset or empty,
// the functions publish nothing beyond the log (local runs, `guardrail
// scan`).
const (
	// EnvEventBus names the event bus (name or ARN) that receives decision
	// events; the stack sets "default", the account's default bus.
	EnvEventBus = "GUARDRAIL_EVENT_BUS"
	// EnvSecurityHubProductARN is the product ARN findings are imported
	// under; the stack sets it only with the securityHub context.
	EnvSecurityHubProductARN = "GUARDRAIL_SECURITY_HUB_PRODUCT_ARN"
)

var (
	// An event bus name (EventBridge API reference, PutEventsRequestEntry
	// EventBusName: a name or an ARN, 1-1600 characters).
	busRe = regexp.MustCompile(`^(?:[\w.\-/]{1,256}|arn:aws[\w-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[\w.\-/]{1,256})$`)
	// The product ARN of a custom integration of an account:
	// arn:<partition>:securityhub:<region>:<account>:product/<account>/default
	// (Security Hub user guide, "Using custom product integrations to send
	// findings to Security Hub"). The two account IDs must match.
	productRe = regexp.MustCompile(`^arn:(aws[\w-]*):securityhub:([a-z0-9-]+):([0-9]{12}):product/([0-9]{12})/default$`)
)

// FromEnv builds the publishers the environment asks for, with clients
// from the SDK's default configuration (AWS_ENDPOINT_URL_EVENTBRIDGE and
// AWS_ENDPOINT_URL_SECURITYHUB reach local stand-ins). It returns nil, nil
// when nothing is configured, and an error naming the variable for a value
// that is not valid, so that a function refuses to start rather than
// silently not publish.
func FromEnv(ctx context.Context, getenv func(string) string, optFns ...func(*awsconfig.LoadOptions) error) (decision.Publisher, error) {
	bus := strings.TrimSpace(getenv(EnvEventBus))
	product := strings.TrimSpace(getenv(EnvSecurityHubProductARN))
	var errs []error
	if bus != "" && !busRe.MatchString(bus) {
		errs = append(errs, &config.Error{Var: EnvEventBus, Value: bus, Err: fmt.Errorf("%q is not an event bus name or ARN", bus)})
	}
	if product != "" {
		if _, err := ParseProductARN(product); err != nil {
			errs = append(errs, &config.Error{Var: EnvSecurityHubProductARN, Value: product, Err: err})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if bus == "" && product == "" {
		return nil, nil
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration for publishing: %w", err)
	}
	var all All
	if bus != "" {
		all = append(all, NewEvents(eventbridge.NewFromConfig(cfg), bus))
	}
	if product != "" {
		p, _ := ParseProductARN(product)
		all = append(all, findingsPublisher(cfg, getenv, p))
	}
	return all, nil
}

// findingsPublisher is Findings under product, or in hub mode
// (config.EnvMemberRoleName set) MemberFindings, which imports each
// member's findings under the member's own product ARN with the member
// role's credentials (member.Clients, from cfg: the function's own
// credentials assume the member role, as the hub's do); product is then
// the hub's, whose account each member's replaces.
func findingsPublisher(cfg aws.Config, getenv func(string) string, product ProductARN) decision.Publisher {
	role := strings.TrimSpace(getenv(config.EnvMemberRoleName))
	if role == "" {
		return NewFindings(securityhub.NewFromConfig(cfg), product)
	}
	hub := config.Config{MemberRoleName: role, LockdownPolicyARN: strings.TrimSpace(getenv(config.EnvLockdownPolicyARN))}
	clients := member.NewClients(cfg, hub.MemberRoleARN)
	session := member.SessionName("findings")
	return NewMemberFindings(func(ctx context.Context, account string) (FindingsAPI, error) {
		return clients.SecurityHub(ctx, account, session)
	}, product)
}

// All publishes to each of its publishers in turn; every one is tried, and
// their errors are joined.
type All []decision.Publisher

// Publish hands rec to every publisher.
func (a All) Publish(ctx context.Context, rec decision.Record) error {
	var errs []error
	for _, p := range a {
		errs = append(errs, p.Publish(ctx, rec))
	}
	return errors.Join(errs...)
}

// Flush flushes every publisher.
func (a All) Flush(ctx context.Context) error {
	var errs []error
	for _, p := range a {
		errs = append(errs, p.Flush(ctx))
	}
	return errors.Join(errs...)
}
