// Package function is the start-up both Lambda functions share: the
// configuration read from the environment and validated once, the IAM
// client and the engine built (guardrail.Start), the publishers of decision
// events and findings built (publish.FromEnv), the function's handler made
// around the decision writer, and lambda.Start; or, when the configuration
// is invalid, an exit before lambda.Start.
package function

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/hub"
	"github.com/iamguardrail/guardrail/pkg/publish"
)

// Handler is what a function does with each EventBridge event.
type Handler interface {
	Handle(ctx context.Context, ev events.CloudWatchEvent) error
}

// NewHandler makes a function's handler around the started engine; out
// writes its records (to the function's stdout) and publishes them.
type NewHandler[H Handler] func(engine *guardrail.Engine, cfg config.Config, out *decision.Writer, version string) H

// Setup starts the engine from getenv (guardrail.Start, which logs the
// configuration, or why it is invalid, to out), builds the publishers the
// environment asks for and makes the handler.
func Setup[H Handler](ctx context.Context, getenv func(string) string, out io.Writer, version string, newHandler NewHandler[H]) (H, error) {
	var none H
	log := decision.NewLogger(out)
	engine, cfg, err := guardrail.Start(ctx, getenv, log, version)
	if err != nil {
		return none, err
	}
	w, err := writer(ctx, getenv, out, log, cfg, version)
	if err != nil {
		return none, err
	}
	return newHandler(engine, cfg, w, version), nil
}

// writer builds the decision writer of a function: its records to out,
// published as the environment asks (publish.FromEnv). An invalid
// publishing setting is logged and stops the start, like any other.
func writer(ctx context.Context, getenv func(string) string, out io.Writer, log *slog.Logger, cfg config.Config, version string) (*decision.Writer, error) {
	pub, err := publish.FromEnv(ctx, getenv)
	if err != nil {
		log.Error("invalid publishing configuration, not starting", "error", err.Error(), "version", version)
		return nil, err
	}
	var opts []decision.WriterOption
	if pub != nil {
		opts = append(opts, decision.WithPublisher(pub))
	}
	return decision.NewWriter(out, cfg.MetricsNamespace, opts...), nil
}

// NewHubHandler makes a function's handler around a started hub
// (organization mode, DESIGN.md §11); out writes and publishes its records.
type NewHubHandler[H Handler] func(h *hub.Hub, cfg config.Config, out *decision.Writer, version string) H

// SetupHub starts a hub from getenv (hub.Start, which logs the
// configuration, or why it is invalid, to out), builds the publishers the
// environment asks for and makes the handler.
func SetupHub[H Handler](ctx context.Context, getenv func(string) string, out io.Writer, version string, newHandler NewHubHandler[H]) (H, error) {
	var none H
	log := decision.NewLogger(out)
	h, cfg, err := hub.Start(ctx, getenv, log, version)
	if err != nil {
		return none, err
	}
	w, err := writer(ctx, getenv, out, log, cfg, version)
	if err != nil {
		return none, err
	}
	return newHandler(h, cfg, w, version), nil
}

// Main runs a function: Setup (or, when GUARDRAIL_MEMBER_ROLE_NAME is set,
// SetupHub) from the process environment with stdout, then lambda.Start.
// On an invalid configuration it exits with status 1 before lambda.Start,
// so Lambda reports the init failure (Runtime.ExitError) on every
// invocation instead of running with a configuration it would have to
// guess at; the reason is already logged.
func Main[H Handler](version string, newHandler NewHandler[H], newHub NewHubHandler[H]) {
	var (
		h   H
		err error
	)
	if strings.TrimSpace(os.Getenv(config.EnvMemberRoleName)) != "" {
		h, err = SetupHub(context.Background(), os.Getenv, os.Stdout, version, newHub)
	} else {
		h, err = Setup(context.Background(), os.Getenv, os.Stdout, version, newHandler)
	}
	if err != nil {
		os.Exit(1)
	}
	if inv, ok := any(h).(Invoker); ok {
		lambda.Start(inv.Invoke)
		return
	}
	lambda.Start(h.Handle)
}

// Invoker is a handler that takes the raw payload because more than one
// kind of event invokes it (the enforcer: EventBridge events and batches
// from its re-check queue); Main starts Invoke instead of Handle.
type Invoker interface {
	Invoke(ctx context.Context, raw json.RawMessage) (any, error)
}
