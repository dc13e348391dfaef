// Package function is the start-up both Lambda functions share: the
// configuration read from the environment and validated once, the IAM
// client and the engine built (guardrail.Start), the function's handler
// made, and lambda.Start; or, when the configuration is invalid, an exit
// before lambda.Start.
package function

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/hub"
)

// Handler is what a function does with each EventBridge event.
type Handler interface {
	Handle(ctx context.Context, ev events.CloudWatchEvent) error
}

// NewHandler makes a function's handler around the started engine; out is
// where its records go (the function's stdout).
type NewHandler[H Handler] func(engine *guardrail.Engine, cfg config.Config, out io.Writer, version string) H

// Setup starts the engine from getenv (guardrail.Start, which logs the
// configuration, or why it is invalid, to out) and makes the handler.
func Setup[H Handler](ctx context.Context, getenv func(string) string, out io.Writer, version string, newHandler NewHandler[H]) (H, error) {
	engine, cfg, err := guardrail.Start(ctx, getenv, decision.NewLogger(out), version)
	if err != nil {
		var none H
		return none, err
	}
	return newHandler(engine, cfg, out, version), nil
}

// NewHubHandler makes a function's handler around a started hub
// (organization mode, DESIGN.md §11).
type NewHubHandler[H Handler] func(h *hub.Hub, cfg config.Config, out io.Writer, version string) H

// SetupHub starts a hub from getenv (hub.Start, which logs the
// configuration, or why it is invalid, to out) and makes the handler.
func SetupHub[H Handler](ctx context.Context, getenv func(string) string, out io.Writer, version string, newHandler NewHubHandler[H]) (H, error) {
	h, cfg, err := hub.Start(ctx, getenv, decision.NewLogger(out), version)
	if err != nil {
		var none H
		return none, err
	}
	return newHandler(h, cfg, out, version), nil
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
