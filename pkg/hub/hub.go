// Package hub runs the guardrail's engine in the member accounts of an AWS
// Organization from one hub account (DESIGN.md §11). For each IAM event it
// checks that the account the event names is a member, assumes the member
// role there (pkg/member) and hands the event to that account's engine — the
// same pkg/guardrail engine a single-account deployment runs, configured
// for the member (config.Config.Member: its own lockdown policy, the member
// role protected, the organization trusted by default). Its sweep lists the
// members and sweeps them with bounded concurrency within a deadline.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/member"
)

// Clients gives the IAM client of a member account, signed with the member
// role's credentials; *member.Clients satisfies it.
type Clients interface {
	IAM(ctx context.Context, account, session string) (*iam.Client, error)
}

// Hub evaluates events and sweeps across the organization. It is safe for
// concurrent use.
type Hub struct {
	cfg     config.Config
	org     *member.Organization
	clients Clients
	opts    []guardrail.Option
	// template is an engine with a placeholder member's configuration,
	// built by New to check it, and asked what no member's engine is
	// needed for (RecheckDue).
	template *guardrail.Engine

	mu      sync.Mutex
	engines map[string]*guardrail.Engine // per member account
}

// New returns a hub with cfg (hub mode: cfg.Hub() must hold), reaching the
// organization through org and the members through clients; opts are
// passed to every member's engine. The engine configuration is checked
// here, for a placeholder member, so a hub that could not build a member's
// engine fails at start rather than on every event.
func New(cfg config.Config, org *member.Organization, clients Clients, opts ...guardrail.Option) (*Hub, error) {
	if !cfg.Hub() {
		return nil, fmt.Errorf("hub: %s is not set", config.EnvMemberRoleName)
	}
	template, err := guardrail.New(nil, cfg.Member("000000000000", "o-placeholder"), opts...)
	if err != nil {
		return nil, err
	}
	return &Hub{cfg: cfg, org: org, clients: clients, opts: opts, template: template, engines: map[string]*guardrail.Engine{}}, nil
}

// RecheckDue returns when the re-check of an event written at eventTime is
// due (guardrail.Engine.RecheckDue): the same for every member, whose
// engines share the hub's consistency window.
func (h *Hub) RecheckDue(eventTime time.Time) time.Time { return h.template.RecheckDue(eventTime) }

// Start is the hub's start-up in a Lambda: the configuration from getenv,
// the SDK's default configuration (Lambda's execution role, the Region,
// AWS_ENDPOINT_URL_* for local runs) with the guardrail's retryer, the STS
// and Organizations clients. Like guardrail.Start it logs the configuration
// or why it is invalid.
func Start(ctx context.Context, getenv func(string) string, log *slog.Logger, version string) (*Hub, config.Config, error) {
	cfg, err := config.FromEnv(getenv)
	if err == nil && !cfg.Hub() {
		err = fmt.Errorf("%s is not set", config.EnvMemberRoleName)
	}
	if err != nil {
		log.Error("invalid configuration, not starting", "error", err.Error(), "version", version)
		return nil, config.Config{}, fmt.Errorf("configuration: %w", err)
	}
	base, err := guardrail.LoadAWSConfig(ctx)
	if err != nil {
		log.Error("cannot load the AWS configuration, not starting", "error", err.Error(), "version", version)
		return nil, config.Config{}, err
	}
	org := member.NewOrganization(organizations.NewFromConfig(base), cfg.MemberAccounts)
	h, err := New(cfg, org, member.NewClients(base, cfg.MemberRoleARN), guardrail.WithVersion(version))
	if err != nil {
		log.Error("invalid configuration, not starting", "error", err.Error(), "version", version)
		return nil, config.Config{}, fmt.Errorf("configuration: %w", err)
	}
	log.Info("configuration", "config", cfg, "version", version)
	return h, cfg, nil
}

// Config returns the hub's configuration.
func (h *Hub) Config() config.Config { return h.cfg }

// Ignored is the error HandleEvent returns for an event the hub does not
// evaluate, with the reason: the caller records it as ignored and
// acknowledges the event (retrying cannot change the answer).
type Ignored struct{ Reason string }

func (e *Ignored) Error() string { return "ignored: " + e.Reason }

// HandleEvent evaluates an event in the member account it names. It returns
// *Ignored for an event caused by the hub's own session in the member
// (the member role is the session issuer: the member rule excludes it, this
// is the second line against a loop) and for an account the hub does not
// guard (outside the organization or the configured list, or the
// management account). A member the hub cannot assume into, or a failure to
// check membership, is an error with an empty record: the caller records it
// and Lambda retries the event.
func (h *Hub) HandleEvent(ctx context.Context, ev guardrail.Event) (decision.Record, error) {
	account := ev.Account
	if account == "" {
		return decision.Record{}, &Ignored{Reason: "the event names no account"}
	}
	if ev.SessionIssuer != "" && sameARN(ev.SessionIssuer, h.cfg.MemberRoleARN(account)) {
		return decision.Record{}, &Ignored{Reason: "caused by the guardrail's member role (" + ev.SessionIssuer + "): the hub's own session"}
	}
	m, err := h.org.Check(ctx, account)
	if err != nil {
		return decision.Record{}, fmt.Errorf("check that account %s is a member: %w", account, err)
	}
	if !m.Member {
		return decision.Record{}, &Ignored{Reason: m.Reason}
	}
	e, err := h.engine(ctx, account, member.SessionName(ev.EventID+"-"+ev.EventName))
	if err != nil {
		return decision.Record{}, err
	}
	return e.HandleEvent(ctx, ev)
}

// engine returns account's engine, its client holding valid member
// credentials (assumed now when none are cached).
func (h *Hub) engine(ctx context.Context, account, session string) (*guardrail.Engine, error) {
	client, err := h.clients.IAM(ctx, account, session)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	e := h.engines[account]
	h.mu.Unlock()
	if e != nil {
		return e, nil
	}
	orgID, err := h.org.ID(ctx)
	if err != nil {
		return nil, err
	}
	e, err = guardrail.New(client, h.cfg.Member(account, orgID), h.opts...)
	if err != nil {
		return nil, fmt.Errorf("engine for member account %s: %w", account, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if prev := h.engines[account]; prev != nil {
		return prev, nil
	}
	h.engines[account] = e
	return e, nil
}

// IsAssumeError reports whether err is the hub's failure to assume a
// member role.
func IsAssumeError(err error) bool {
	var ae *member.AssumeError
	return errors.As(err, &ae)
}

// sameARN compares two role ARNs: equal, or equal with the role name
// compared without regard to case (IAM role names are case-insensitive).
func sameARN(a, b string) bool {
	if a == b {
		return true
	}
	pa, errA := arn.Parse(a)
	pb, errB := arn.Parse(b)
	return errA == nil && errB == nil && pa.Partition == pb.Partition && pa.AccountID == pb.AccountID &&
		pa.Service == pb.Service && strings.EqualFold(pa.Resource, pb.Resource)
}
