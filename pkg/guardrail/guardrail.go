// Package guardrail provides the enforcement engine of the IAM service role
// guardrail: it reads a role's current state from IAM, classifies the role,
// restricts its trust policy, makes sure the lockdown policy is attached, and
// returns a decision record (DESIGN.md §2–§8). The enforcer Lambda calls
// Evaluate for one role named by a CloudTrail event; the sweeper and
// `guardrail scan` call Sweep, which lists every role in a handful of calls
// and evaluates them with bounded concurrency.
//
// One evaluation is one pass in four stages, each in its file, in call
// order: read (read.go, converge.go: the role's state read once into one
// value, each document parsed once), plan (plan.go: both controls decided
// from that value, without an IAM call), apply (apply.go: the writes), and
// record (record.go: the decision record written once, outcome and lockdown
// state derived there from the applied actions). evaluate.go strings them
// together for an event's role (Evaluate) and a sweep's snapshot
// (EvaluateRole); lockdowndoc.go does the same for the lockdown policy
// itself; run.go holds what a pass carries (IAM calls counted by SDK
// middleware, stale reads, failures).
//
// The engine does not log: callers log the returned decision.Record, which is
// always filled, also when an error is returned. The error is only for the
// retry decision (IsRetryable).
package guardrail

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/policy"
)

// IAM is the part of the IAM API the engine calls; *iam.Client satisfies it.
// Keeping it this small documents exactly which permissions the guardrail's
// roles need (and nothing else: no Detach*, no Delete* but
// DeletePolicyVersion, which frees a slot of the lockdown policy's five
// versions for its restore).
type IAM interface {
	RoleReader
	RoleWriter
	LockdownPolicyVersions
}

// RoleReader reads roles: one by name (the event path) or all of them with
// their policies (the sweep).
type RoleReader interface {
	GetRole(ctx context.Context, in *iam.GetRoleInput, optFns ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	ListAttachedRolePolicies(ctx context.Context, in *iam.ListAttachedRolePoliciesInput, optFns ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	ListRolePolicies(ctx context.Context, in *iam.ListRolePoliciesInput, optFns ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, optFns ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	GetAccountAuthorizationDetails(ctx context.Context, in *iam.GetAccountAuthorizationDetailsInput, optFns ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error)
}

// RoleWriter makes the two controls' writes: the restricted trust policy
// and its write marker (TagRole, MarkerTagKey only), the session revocation
// or inline lockdown, the managed lockdown.
type RoleWriter interface {
	UpdateAssumeRolePolicy(ctx context.Context, in *iam.UpdateAssumeRolePolicyInput, optFns ...func(*iam.Options)) (*iam.UpdateAssumeRolePolicyOutput, error)
	TagRole(ctx context.Context, in *iam.TagRoleInput, optFns ...func(*iam.Options)) (*iam.TagRoleOutput, error)
	PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, optFns ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	AttachRolePolicy(ctx context.Context, in *iam.AttachRolePolicyInput, optFns ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error)
}

// LockdownPolicyVersions reads the lockdown policy's versions and restores
// its document (EvaluateLockdownPolicy).
type LockdownPolicyVersions interface {
	ListPolicyVersions(ctx context.Context, in *iam.ListPolicyVersionsInput, optFns ...func(*iam.Options)) (*iam.ListPolicyVersionsOutput, error)
	GetPolicyVersion(ctx context.Context, in *iam.GetPolicyVersionInput, optFns ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error)
	CreatePolicyVersion(ctx context.Context, in *iam.CreatePolicyVersionInput, optFns ...func(*iam.Options)) (*iam.CreatePolicyVersionOutput, error)
	DeletePolicyVersion(ctx context.Context, in *iam.DeletePolicyVersionInput, optFns ...func(*iam.Options)) (*iam.DeletePolicyVersionOutput, error)
}

var _ IAM = (*iam.Client)(nil)

// MaxAttempts is how often the SDK tries one IAM call before giving up. IAM's
// rate limits are unpublished and low and the SDK's default of 3 attempts
// gives up on bursts of Throttling (toolchain.md pitfall 12, DESIGN.md §8).
const MaxAttempts = 8

// NewRetryer returns the retryer every guardrail IAM client uses: the SDK's
// adaptive mode (client-side rate limiting that backs off when IAM throttles)
// with MaxAttempts attempts.
func NewRetryer() aws.Retryer {
	return retry.AddWithMaxAttempts(retry.NewAdaptiveMode(), MaxAttempts)
}

// NewIAMClient builds the IAM client of the Lambdas and of `guardrail scan`
// from the SDK's default configuration chain (environment, profile, Lambda
// execution role), with NewRetryer. The endpoint comes from the SDK's own
// AWS_ENDPOINT_URL_IAM variable when set, which is how the local stand-in is
// reached; no special code is involved.
func NewIAMClient(ctx context.Context, optFns ...func(*awsconfig.LoadOptions) error) (*iam.Client, error) {
	cfg, err := LoadAWSConfig(ctx, optFns...)
	if err != nil {
		return nil, err
	}
	return iam.NewFromConfig(cfg), nil
}

// LoadAWSConfig loads the SDK's default configuration with NewRetryer: what
// NewIAMClient builds its client from, and what a hub (pkg/hub) builds its
// STS, Organizations and member IAM clients from.
func LoadAWSConfig(ctx context.Context, optFns ...func(*awsconfig.LoadOptions) error) (aws.Config, error) {
	opts := append([]func(*awsconfig.LoadOptions) error{
		awsconfig.WithRetryer(NewRetryer),
	}, optFns...)
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// Start is the shared start-up of both Lambdas: it reads and validates the
// configuration from getenv once, builds the IAM client and the engine, and
// logs the configuration. On error it has already logged a message naming
// every invalid setting, and the caller should exit before lambda.Start
// rather than run with a configuration it would have to guess at.
func Start(ctx context.Context, getenv func(string) string, log *slog.Logger, version string) (*Engine, config.Config, error) {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		log.Error("invalid configuration, not starting", "error", err.Error(), "version", version)
		return nil, config.Config{}, fmt.Errorf("configuration: %w", err)
	}
	client, err := NewIAMClient(ctx)
	if err != nil {
		log.Error("cannot build the IAM client, not starting", "error", err.Error(), "version", version)
		return nil, config.Config{}, err
	}
	e, err := New(client, cfg, WithVersion(version))
	if err != nil {
		log.Error("invalid configuration, not starting", "error", err.Error(), "version", version)
		return nil, config.Config{}, fmt.Errorf("configuration: %w", err)
	}
	log.Info("configuration", "config", cfg, "version", version)
	return e, cfg, nil
}

// DefaultStaleReadBackoff is how long the engine waits before each re-read
// when what it read disagrees with an event's claimed change (DESIGN.md §2):
// about 6 s in total, well inside the enforcer's timeout, and longer than
// IAM's usual propagation delay of under a second to a few seconds.
var DefaultStaleReadBackoff = []time.Duration{
	200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
	1600 * time.Millisecond, 3200 * time.Millisecond,
}

// Engine evaluates roles against the configured controls. It is safe for
// concurrent use.
type Engine struct {
	client  IAM
	cfg     config.Config
	version string
	now     func() time.Time
	backoff []time.Duration
	sleep   func(ctx context.Context, d time.Duration) error
	// window is IAM's consistency window (cfg.ConsistencyWindow).
	window time.Duration

	// lockdown is the document the lockdown policy must hold, built from
	// the configuration (LockdownConfig); unset when the control is off.
	lockdown lockdownDocument
	// parse parses every policy document the engine reads or is claimed:
	// policy.Parse, replaced by a counting one in tests.
	parse func([]byte) (*policy.Document, error)
}

// Option changes an Engine's defaults.
type Option func(*Engine)

// WithVersion sets the build version written into every record.
func WithVersion(v string) Option { return func(e *Engine) { e.version = v } }

// WithClock replaces time.Now, for the evaluation time (the revocation
// policy's aws:TokenIssueTime) and durations; tests use it for exact records.
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// WithSleep replaces the engine's wait between re-reads (a timer bounded by
// the context); tests use it to let time pass without waiting.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(e *Engine) { e.sleep = sleep }
}

// WithStaleReadBackoff replaces DefaultStaleReadBackoff: one wait before each
// re-read, so the number of re-reads is len(b). Tests use short waits.
func WithStaleReadBackoff(b []time.Duration) Option {
	return func(e *Engine) { e.backoff = append([]time.Duration(nil), b...) }
}

// New returns an engine that talks to IAM through client (normally from
// NewIAMClient) and applies cfg, which must come from config.FromEnv (or be
// equally valid): an invalid mode, or a lockdown policy ARN from which no
// lockdown document can be built while the lockdown control is on, is an
// error rather than guessed at (Start refuses to start with it). A zero
// cfg.ConsistencyWindow means config.DefaultConsistencyWindow.
func New(client IAM, cfg config.Config, opts ...Option) (*Engine, error) {
	e := &Engine{
		client:  client,
		cfg:     cfg,
		version: "dev",
		now:     time.Now,
		backoff: DefaultStaleReadBackoff,
		sleep:   sleepCtx,
		parse:   policy.Parse,
	}
	for _, o := range opts {
		o(e)
	}
	e.window = cfg.ConsistencyWindow
	if e.window <= 0 {
		e.window = config.DefaultConsistencyWindow
	}
	if err := checkModes(cfg); err != nil {
		return nil, err
	}
	if cfg.LockdownMode != config.Skip {
		if cfg.LockdownPolicyARN == "" {
			return nil, fmt.Errorf("lockdown mode is %s but no lockdown policy ARN is configured (%s)", cfg.LockdownMode, config.EnvLockdownPolicyARN)
		}
		var err error
		if e.lockdown, err = buildLockdown(cfg); err != nil {
			return nil, fmt.Errorf("invalid engine configuration: %w; nothing evaluated or written", err)
		}
	}
	return e, nil
}

// checkModes rejects a mode other than enforce, check and skip. The engine
// writes only in enforce mode, but an empty or misspelt mode is a
// configuration that did not come from config.FromEnv, and guessing what the
// operator meant (enforce? check?) is not the engine's call: it fails every
// evaluation instead, writing nothing.
func checkModes(cfg config.Config) error {
	for _, m := range []struct {
		control string
		mode    config.Mode
	}{{"trust", cfg.TrustMode}, {"lockdown", cfg.LockdownMode}} {
		switch m.mode {
		case config.Enforce, config.Check, config.Skip:
		default:
			return fmt.Errorf("invalid engine configuration: %s mode %q is not %s, %s or %s; nothing evaluated or written",
				m.control, m.mode, config.Enforce, config.Check, config.Skip)
		}
	}
	return nil
}

// Config returns the configuration the engine applies.
func (e *Engine) Config() config.Config { return e.cfg }

// Trigger says what caused an evaluation; it is copied into the record.
type Trigger struct {
	EventID   string // CloudTrail eventID
	EventName string // CloudTrail eventName, or "Sweep"/"Scan"
	Actor     string // ARN of the caller (userIdentity.arn)
	// Account is the account the event happened in (recipientAccountId).
	// It is recorded when the role cannot be read (role-gone), so every
	// record names its account.
	Account   string
	EventTime time.Time // CloudTrail eventTime
	// ReceivedAt is when the Lambda received the event; with EventTime it
	// gives delivery_lag_ms, how long the role was exposed before the
	// guardrail saw it.
	ReceivedAt time.Time
	// Recheck is set on an event delivered again from the re-check queue
	// once RecheckDue has passed: its reads are fresh, so a disagreement
	// with the claim is settled at once (converge), and no further
	// re-check is scheduled.
	Recheck bool
}

// Claim is what an event says it changed. The engine checks its reads
// against it to detect IAM's eventual consistency (DESIGN.md §2). The zero
// Claim claims nothing and disables the check.
type Claim struct {
	// TrustPolicy is the trust document the event set (CreateRole,
	// UpdateAssumeRolePolicy): the JSON string from requestParameters,
	// plain or URL-encoded. "" when the event set none.
	TrustPolicy string
	// AttachedPolicyARN is the policy an AttachRolePolicy event attached.
	AttachedPolicyARN string
	// DetachedPolicyARN is the policy a DetachRolePolicy event detached.
	DetachedPolicyARN string
	// RevocationChanged says the event deleted or rewrote the
	// RevokePolicyName inline policy (DeleteRolePolicy, PutRolePolicy):
	// the engine restores it (restoreRevocation).
	RevocationChanged bool
}

// Role is a role already read, as GetAccountAuthorizationDetails returns it,
// so the sweeper evaluates compliant roles without another call.
type Role struct {
	Name, Path, ARN string
	// TrustPolicy is the trust document as IAM returns it (URL-encoded) or
	// plain JSON.
	TrustPolicy string
	// AttachedPolicyARNs lists the managed policies attached to the role.
	AttachedPolicyARNs []string
	// InlinePolicies maps each inline policy's name to its document
	// (URL-encoded as IAM returns it, or plain JSON).
	InlinePolicies map[string]string
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
