// Package settings provides the guardrail stack's deployment settings: the
// cdk.json context keys, their defaults, and their validation at synth time,
// so that a bad account ID, organization ID, mode or glob stops `cdk synth`
// with a message naming the key instead of reaching a Lambda that would then
// refuse to start (DESIGN.md §6).
//
// Values are validated with the same functions the Lambdas use at start
// (pkg/config), so the stack never deploys a configuration the functions
// reject. Context values come either from cdk.json (JSON strings, numbers,
// booleans and arrays) or from `cdk -c key=value` (always strings); both
// forms are accepted for every key.
package settings

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// Context keys, as written in cdk.json or passed with `cdk -c key=value`.
const (
	KeyMode                  = "mode"
	KeyTrustMode             = "trustMode"
	KeyLockdownMode          = "lockdownMode"
	KeyTrustedAccounts       = "trustedAccounts"
	KeyTrustedOrgIDs         = "trustedOrgIds"
	KeyTrustedAudiences      = "trustedAudiences"
	KeyTrustedOIDCTenants    = "trustedOidcTenants"
	KeyExemptRoles           = "exemptRoles"
	KeySweepSchedule         = "sweepSchedule"
	KeyAlarmEmail            = "alarmEmail"
	KeyLogRetentionDays      = "logRetentionDays"
	KeyExtraDeniedActions    = "extraDeniedActions"
	KeyRevokeSessions        = "revokeSessions"
	KeyCreateTrail           = "createTrail"
	KeyProtectedBuckets      = "protectedBuckets"
	KeyAllowedTokenAudiences = "allowedTokenAudiences"
	KeyEnforcerConcurrency   = "enforcerConcurrency"
	KeyDistDir               = "distDir"
	// Operations (issue 13): the decision-notification e-mail, the
	// delivery-lag alarm threshold and the Security Hub findings.
	KeyNotifyEmail     = "notifyEmail"
	KeyLagAlarmSeconds = "lagAlarmSeconds"
	KeySecurityHub     = "securityHub"
	// KeyOrganization ("organization") is declared in organization.go,
	// KeyPrevention ("prevention") in prevention.go.
)

// Keys lists every context key the stack reads, in documentation order.
var Keys = []string{
	KeyMode, KeyTrustMode, KeyLockdownMode, KeyTrustedAccounts, KeyTrustedOrgIDs,
	KeyTrustedAudiences, KeyTrustedOIDCTenants, KeyExemptRoles, KeySweepSchedule, KeyAlarmEmail, KeyLogRetentionDays,
	KeyExtraDeniedActions, KeyRevokeSessions, KeyCreateTrail, KeyProtectedBuckets, KeyAllowedTokenAudiences,
	KeyEnforcerConcurrency, KeyDistDir, KeyNotifyEmail, KeyLagAlarmSeconds, KeySecurityHub,
	KeyOrganization, KeyPrevention,
}

// Defaults of the settings that have one.
const (
	// DefaultSweepSchedule runs the sweeper once a day: it catches roles
	// that predate the deployment and any event CloudTrail or EventBridge
	// dropped (delivery is best effort), at a few dozen IAM reads per run.
	DefaultSweepSchedule = "rate(1 day)"
	// DefaultLogRetentionDays keeps decision records for a year, long
	// enough to undo any change from its trust_policy_before.
	DefaultLogRetentionDays = 365
	// DefaultEnforcerConcurrency caps the enforcer so a burst of role
	// changes (a large CloudFormation deploy) cannot exhaust IAM's rate
	// limits or the account's Lambda concurrency; EventBridge and Lambda
	// queue and retry what exceeds it.
	DefaultEnforcerConcurrency = 5
	// MaxEnforcerConcurrency bounds the cap: reserved concurrency is taken
	// from the account's pool, which must keep at least 100 unreserved.
	MaxEnforcerConcurrency = 50
	// DefaultDistDir is where `make build` writes enforcer.zip and
	// sweeper.zip, relative to the directory cdk runs in.
	DefaultDistDir = "dist"
	// DefaultLagAlarmSeconds is the delivery-lag p99 above which the lag
	// alarm fires: CloudTrail usually delivers IAM events to EventBridge in
	// seconds to a couple of minutes (aws-facts.md §1.4, no SLA), so a p99
	// of 15 minutes means the trail or the rule is broken or backed up.
	DefaultLagAlarmSeconds = 900
	// MinLagAlarmSeconds and MaxLagAlarmSeconds bound lagAlarmSeconds:
	// under a minute alarms on CloudTrail's normal delays; over six hours
	// is past the oldest event Lambda still delivers (its maximum event age).
	MinLagAlarmSeconds = 60
	MaxLagAlarmSeconds = 6 * 3600
)

// DefaultExemptRoles is empty: the CDK bootstrap roles that deploy this
// stack are always exempt, by exact name (BootstrapRoleNames), and
// exemptRoles adds the operator's own (break-glass, pipeline roles).
var DefaultExemptRoles = []string{}

// DefaultBootstrapQualifier is the CDK's default bootstrap qualifier; the
// context key @aws-cdk/core:bootstrapQualifier (BootstrapQualifierKey)
// selects another, for `cdk deploy` and for the names below alike.
const (
	DefaultBootstrapQualifier = "hnb659fds"
	BootstrapQualifierKey     = "@aws-cdk/core:bootstrapQualifier"
)

// BootstrapRoleNames returns the exact names of the CDK bootstrap roles
// that deploy and update this stack in account and region: the deploy role
// the CLI assumes, the CloudFormation execution role it passes, and the
// file-publishing role that uploads the functions' code (CDK bootstrap
// template: cdk-QUALIFIER-ROLE-ACCOUNT-REGION). Locked down, the first two
// would be refused the next `cdk deploy` by the ProtectGuardrail*
// statements, the third the upload by ProtectBuckets. The lookup and
// image-publishing roles are not exempt: this stack does neither.
//
// Exact names rather than a glob such as "cdk-hnb659fds-*": an exemption
// glob also exempts every role created later whose name matches, by anyone
// the lockdown does not bind (an IAM user, an Identity Center role, an
// exempt role), and such a role is never checked.
func BootstrapRoleNames(qualifier, account, region string) []string {
	var out []string
	for _, r := range []string{"deploy", "cfn-exec", "file-publishing"} {
		out = append(out, "cdk-"+qualifier+"-"+r+"-role-"+account+"-"+region)
	}
	return out
}

// AssetsBucketName returns the name of the CDK bootstrap bucket that holds
// the functions' code (CDK bootstrap template:
// cdk-QUALIFIER-assets-ACCOUNT-REGION).
func AssetsBucketName(qualifier, account, region string) string {
	return "cdk-" + qualifier + "-assets-" + account + "-" + region
}

// RetentionDays lists the values CloudWatch Logs accepts for a log group's
// retention (PutRetentionPolicy, retentionInDays).
var RetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// Settings is the validated deployment configuration of one stack.
type Settings struct {
	// Mode is the global mode; TrustMode and LockdownMode are the
	// effective per-control modes (the global mode unless overridden).
	Mode, TrustMode, LockdownMode config.Mode
	// TrustedAccounts, TrustedOrgIDs and ExemptRoles reach the Lambdas as
	// GUARDRAIL_TRUSTED_ACCOUNTS, GUARDRAIL_TRUSTED_ORG_IDS and
	// GUARDRAIL_EXEMPT_ROLES.
	TrustedAccounts, TrustedOrgIDs, ExemptRoles []string
	// TrustedAudiences reach the Lambdas as GUARDRAIL_TRUSTED_AUDIENCES: the
	// application IDs of public web identity providers that may stay.
	TrustedAudiences []string
	// TrustedOIDCTenants reach the Lambdas as GUARDRAIL_TRUSTED_OIDC_TENANTS:
	// the owners of shared OIDC issuers that may stay (KIND:IDENTIFIER).
	TrustedOIDCTenants []string
	// SweepSchedule is an EventBridge schedule expression, rate(…) or cron(…).
	SweepSchedule string
	// AlarmEmail, when set, is subscribed to the alarm topic.
	AlarmEmail string
	// LogRetentionDays is the retention of the functions' log groups.
	LogRetentionDays int
	// ExtraDeniedActions are added to the lockdown policy.
	ExtraDeniedActions []string
	// RevokeSessions reaches the Lambdas as GUARDRAIL_REVOKE_SESSIONS.
	RevokeSessions bool
	// CreateTrail adds a minimal management-events trail to the stack.
	CreateTrail bool
	// ProtectedBuckets are more S3 bucket names (an existing trail's
	// bucket) whose objects, policy and lifecycle the lockdown protects.
	ProtectedBuckets []string
	// AllowedTokenAudiences are the audiences service roles may mint
	// outbound identity tokens for (sts:GetWebIdentityToken); empty
	// denies them every token (pkg/lockdown, Config.AllowedTokenAudiences).
	AllowedTokenAudiences []string
	// EnforcerConcurrency is the enforcer's reserved concurrency.
	EnforcerConcurrency int
	// DistDir holds enforcer.zip and sweeper.zip.
	DistDir string
	// NotifyEmail, when set, is subscribed to the decision topic: one
	// readable message per changed, would-change or failed decision.
	NotifyEmail string
	// LagAlarmSeconds is the delivery-lag p99 threshold of the lag alarm.
	LagAlarmSeconds int
	// SecurityHub imports one finding per service role and control into
	// AWS Security Hub (the functions get BatchImportFindings only then).
	SecurityHub bool
	// Organization, when set, adds the organization hub and the members'
	// StackSet (DESIGN.md §11) to the single-account stack.
	Organization *Organization
	// Prevention is PreventionOff, PreventionCheck or PreventionEnforce:
	// what the hub does with the organization policies (KeyPrevention).
	Prevention string
}

// Default returns the settings used for every key that is absent.
func Default() Settings {
	return Settings{
		Mode: config.Enforce, TrustMode: config.Enforce, LockdownMode: config.Enforce,
		TrustedAccounts:       []string{},
		TrustedOrgIDs:         []string{},
		TrustedAudiences:      []string{},
		TrustedOIDCTenants:    []string{},
		ExemptRoles:           append([]string{}, DefaultExemptRoles...),
		SweepSchedule:         DefaultSweepSchedule,
		LogRetentionDays:      DefaultLogRetentionDays,
		ExtraDeniedActions:    []string{},
		ProtectedBuckets:      []string{},
		AllowedTokenAudiences: []string{},
		RevokeSessions:        true,
		EnforcerConcurrency:   DefaultEnforcerConcurrency,
		DistDir:               DefaultDistDir,
		LagAlarmSeconds:       DefaultLagAlarmSeconds,
		Prevention:            PreventionOff,
	}
}

// Error reports one invalid context value. Parse joins every Error it
// finds, so one synth shows every mistake at once.
type Error struct {
	Key   string // context key
	Value string // offending value (one item for lists), as text
	Err   error  // what is wrong
}

func (e *Error) Error() string {
	return fmt.Sprintf("context %q: %v", e.Key, e.Err)
}

// Unwrap returns the underlying validation error.
func (e *Error) Unwrap() error { return e.Err }

var (
	// rate(value unit): value a positive integer, unit singular for 1 and
	// plural otherwise (EventBridge schedule expression reference).
	rateRe = regexp.MustCompile(`^rate\(([1-9][0-9]*) (minute|minutes|hour|hours|day|days)\)$`)
	// cron(minutes hours day-of-month month day-of-week year): six fields
	// of the characters EventBridge cron expressions use.
	cronRe = regexp.MustCompile(`^cron\([0-9A-Za-z*?,/#LW-]+( [0-9A-Za-z*?,/#LW-]+){5}\)$`)
)

// MinSweepInterval is the shortest rate() the sweep may run at, in minutes.
// The sweeper may run up to 15 minutes and has a reserved concurrency of 1,
// so a shorter interval would throttle overlapping sweeps into the alarm.
const MinSweepInterval = 60

// Parse reads every key through get (nil for an absent key), applies the
// defaults and validates the result. The error joins one *Error per invalid
// value.
func Parse(get func(key string) any) (Settings, error) {
	s := Default()
	var errs []error
	fail := func(key string, value any, err error) {
		errs = append(errs, &Error{Key: key, Value: fmt.Sprint(value), Err: err})
	}

	mode := func(key string, def config.Mode) config.Mode {
		v, ok, err := str(get(key))
		if err != nil {
			fail(key, get(key), err)
			return def
		}
		if !ok || v == "" {
			// "" (the cdk.json default of the per-control keys) means
			// "same as mode".
			return def
		}
		m, err := config.ParseMode(v)
		if err != nil {
			fail(key, v, err)
			return def
		}
		return m
	}
	s.Mode = mode(KeyMode, config.Enforce)
	s.TrustMode = mode(KeyTrustMode, s.Mode)
	s.LockdownMode = mode(KeyLockdownMode, s.Mode)

	list := func(key string, def []string, validate func(string) error) []string {
		items, ok, err := strList(get(key))
		if err != nil {
			fail(key, get(key), err)
			return def
		}
		if !ok {
			return def
		}
		for _, it := range items {
			if err := validate(it); err != nil {
				fail(key, it, err)
			}
		}
		return items
	}
	s.TrustedAccounts = list(KeyTrustedAccounts, s.TrustedAccounts, config.ValidateAccountID)
	s.TrustedOrgIDs = list(KeyTrustedOrgIDs, s.TrustedOrgIDs, config.ValidateOrgID)
	s.TrustedAudiences = list(KeyTrustedAudiences, s.TrustedAudiences, config.ValidateAudience)
	s.TrustedOIDCTenants = list(KeyTrustedOIDCTenants, s.TrustedOIDCTenants, trust.ValidateTenant)
	s.ExemptRoles = list(KeyExemptRoles, s.ExemptRoles, config.ValidateGlob)
	// Actions are validated by the lockdown package below, which also
	// enforces the policy size limit.
	s.ExtraDeniedActions = list(KeyExtraDeniedActions, s.ExtraDeniedActions, func(string) error { return nil })
	s.ProtectedBuckets = list(KeyProtectedBuckets, s.ProtectedBuckets, func(string) error { return nil })
	s.AllowedTokenAudiences = list(KeyAllowedTokenAudiences, s.AllowedTokenAudiences, func(string) error { return nil })

	scalar(get, fail, KeySweepSchedule, str, ValidateSchedule, &s.SweepSchedule)
	// "" (the cdk.json default) means no alarm e-mail subscription.
	scalar(get, fail, KeyAlarmEmail, str, func(v string) error {
		if v == "" {
			return nil
		}
		return validateEmail(v)
	}, &s.AlarmEmail)
	scalar(get, fail, KeyLogRetentionDays, integer, validateRetention, &s.LogRetentionDays)
	scalar(get, fail, KeyEnforcerConcurrency, integer, validateConcurrency, &s.EnforcerConcurrency)
	scalar(get, fail, KeyRevokeSessions, boolean, nil, &s.RevokeSessions)
	scalar(get, fail, KeyCreateTrail, boolean, nil, &s.CreateTrail)
	scalar(get, fail, KeyDistDir, str, nil, &s.DistDir)
	s.Organization = parseOrganization(get(KeyOrganization), fail)
	scalar(get, fail, KeyPrevention, str, validatePrevention, &s.Prevention)
	if s.Prevention == "" {
		s.Prevention = PreventionOff
	}
	if s.Prevention != PreventionOff && s.Organization == nil {
		fail(KeyPrevention, s.Prevention, fmt.Errorf("needs organization mode (the %q context): the policies are attached to its memberOUs", KeyOrganization))
	}
	scalar(get, fail, KeyNotifyEmail, str, func(v string) error {
		if v == "" {
			return nil
		}
		return validateEmail(v)
	}, &s.NotifyEmail)
	scalar(get, fail, KeyLagAlarmSeconds, integer, func(n int) error {
		if n < MinLagAlarmSeconds || n > MaxLagAlarmSeconds {
			return fmt.Errorf("%d is outside %d-%d seconds", n, MinLagAlarmSeconds, MaxLagAlarmSeconds)
		}
		return nil
	}, &s.LagAlarmSeconds)
	scalar(get, fail, KeySecurityHub, boolean, nil, &s.SecurityHub)
	// The sweeper heartbeat alarm watches two sweep intervals, which a
	// CloudWatch alarm can span only up to 7 days (PutMetricAlarm: Period
	// × EvaluationPeriods at most 604,800 s).
	if _, err := SweepInterval(s.SweepSchedule); err != nil {
		fail(KeySweepSchedule, s.SweepSchedule, err)
	}

	// Build the lockdown document once as the stack will, with stand-ins
	// for what only the deployment knows (account, key ARN, generated
	// bucket name): it validates every extra action, bucket name and token
	// audience and proves the configuration fits IAM's managed-policy size limit
	// before anything deploys.
	if _, err := lockdown.Document(s.sizingLockdown()); err != nil {
		key, value := KeyExtraDeniedActions, strings.Join(s.ExtraDeniedActions, ",")
		if ce := (*lockdown.ConfigError)(nil); errors.As(err, &ce) {
			switch ce.Field {
			case "ExemptRoles":
				key, value = KeyExemptRoles, strings.Join(s.ExemptRoles, ",")
			case "ProtectedBuckets":
				key, value = KeyProtectedBuckets, strings.Join(s.ProtectedBuckets, ",")
			case "AllowedTokenAudiences":
				key, value = KeyAllowedTokenAudiences, strings.Join(s.AllowedTokenAudiences, ",")
			}
		}
		fail(key, value, err)
	}

	if len(errs) > 0 {
		return Settings{}, fmt.Errorf("invalid guardrail settings: %w", errors.Join(errs...))
	}
	return s, nil
}

// sizingLockdown is the lockdown configuration the stack builds, with the
// longest values the deployment may fill in: a 12-digit account, a
// 10-character bootstrap qualifier (the CDK's maximum), a token for the
// alarm key and for the generated trail bucket name.
func (s Settings) sizingLockdown() lockdown.Config {
	const account, region, qualifier = "000000000000", "us-east-1", "qualifier0"
	buckets := []string{AssetsBucketName(qualifier, account, region)}
	if s.CreateTrail {
		buckets = append(buckets, "${Token[TrailBucket.1]}")
	}
	return lockdown.Config{
		Account:               account,
		ExtraDeniedActions:    s.ExtraDeniedActions,
		ExemptRoles:           append(BootstrapRoleNames(qualifier, account, region), s.ExemptRoles...),
		AlarmKeyARN:           "${Token[AlarmTopicKey.1]}",
		ProtectedBuckets:      append(buckets, s.ProtectedBuckets...),
		AllowedTokenAudiences: s.AllowedTokenAudiences,
	}
}

// Env returns the GUARDRAIL_* environment variables the settings give both
// functions (pkg/config reads them). Per-control modes are always spelled
// out, so the deployed configuration reads the same in the console as in
// cdk.json. The lockdown policy and protected-role variables depend on
// deployed resources and are added by the stack, which also adds the
// bootstrap roles (BootstrapRoleNames) to the exemptions. What only shapes
// the lockdown document (extra actions, protected buckets, token audiences)
// is not passed: the functions attach the deployed policy by its ARN and
// copy its current version for the inline fallback; they never build the
// document themselves.
func (s Settings) Env() map[string]string {
	return map[string]string{
		config.EnvMode:               string(s.Mode),
		config.EnvTrustMode:          string(s.TrustMode),
		config.EnvLockdownMode:       string(s.LockdownMode),
		config.EnvTrustedAccounts:    strings.Join(s.TrustedAccounts, ","),
		config.EnvTrustedOrgIDs:      strings.Join(s.TrustedOrgIDs, ","),
		config.EnvTrustedAudiences:   strings.Join(s.TrustedAudiences, ","),
		config.EnvTrustedOIDCTenants: strings.Join(s.TrustedOIDCTenants, ","),
		config.EnvExemptRoles:        strings.Join(s.ExemptRoles, ","),
		config.EnvRevokeSessions:     strconv.FormatBool(s.RevokeSessions),
		config.EnvMetricsNamespace:   config.DefaultMetricsNamespace,
		// The functions rebuild the lockdown document to restore it.
		config.EnvLockdownExtraActions:  strings.Join(s.ExtraDeniedActions, ","),
		config.EnvAllowedTokenAudiences: strings.Join(s.AllowedTokenAudiences, ","),
	}
}

// ValidateSchedule reports whether expr is an EventBridge schedule
// expression the sweep may use: cron(…) with six fields, or rate(…) of at
// least MinSweepInterval minutes.
func ValidateSchedule(expr string) error {
	if cronRe.MatchString(expr) {
		return nil
	}
	m := rateRe.FindStringSubmatch(expr)
	if m == nil {
		return fmt.Errorf("%q is not a schedule expression (want e.g. %q or %q)", expr, "rate(1 day)", "cron(0 3 * * ? *)")
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return fmt.Errorf("%q: bad number: %w", expr, err)
	}
	if (n == 1) != !strings.HasSuffix(m[2], "s") {
		return fmt.Errorf("%q: EventBridge wants the singular unit for 1 and the plural otherwise", expr)
	}
	minutes := n
	switch strings.TrimSuffix(m[2], "s") {
	case "hour":
		minutes = n * 60
	case "day":
		minutes = n * 24 * 60
	}
	if minutes < MinSweepInterval {
		return fmt.Errorf("%q runs more often than every %d minutes; a sweep may take up to 15 minutes", expr, MinSweepInterval)
	}
	return nil
}

// MaxSweepInterval is the longest sweep interval the heartbeat alarm can
// watch: twice it must fit in CloudWatch's 7-day alarm evaluation range.
const MaxSweepInterval = 84 * time.Hour

// SweepInterval returns the longest time between two sweeps of a schedule
// expression already valid for ValidateSchedule: a rate's interval, or a
// day for a cron expression that runs every day (day-of-month and
// day-of-week "*" or "?", every month, every year). Other cron expressions
// (weekly, monthly, some weekdays) and rates over MaxSweepInterval are an
// error: the heartbeat alarm could not tell a missed sweep from a gap in
// the schedule.
func SweepInterval(expr string) (time.Duration, error) {
	if m := rateRe.FindStringSubmatch(expr); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
		d := time.Duration(n) * unit
		if d > MaxSweepInterval {
			return 0, fmt.Errorf("%q sweeps less often than every %v, which the sweeper heartbeat alarm cannot watch (two intervals must fit in CloudWatch's 7-day alarm range)", expr, MaxSweepInterval)
		}
		return d, nil
	}
	f := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(expr, "cron("), ")"))
	wild := func(v string) bool { return v == "*" || v == "?" }
	if len(f) == 6 && wild(f[2]) && wild(f[3]) && wild(f[4]) && wild(f[5]) {
		return 24 * time.Hour, nil
	}
	return 0, fmt.Errorf("%q does not run every day; the sweeper heartbeat alarm needs a schedule whose longest gap is known: use rate(…) of at most %v or a daily cron(…)", expr, MaxSweepInterval)
}

// scalar reads the value of key with conv and, when it is set, stores it in
// *dst. A value conv cannot read is reported and the default kept; a value
// validate (nil: any) refuses is reported too, so every error is listed.
func scalar[T any](get func(string) any, fail func(string, any, error), key string,
	conv func(any) (T, bool, error), validate func(T) error, dst *T) {
	v, ok, err := conv(get(key))
	if err != nil {
		fail(key, get(key), err)
		return
	}
	if !ok {
		return
	}
	if validate != nil {
		if err := validate(v); err != nil {
			fail(key, v, err)
		}
	}
	*dst = v
}

// validateConcurrency bounds the enforcer's reserved concurrency, which is
// taken from the account's pool.
func validateConcurrency(n int) error {
	if n < 1 || n > MaxEnforcerConcurrency {
		return fmt.Errorf("%d is outside 1-%d (reserved concurrency is taken from the account's pool)", n, MaxEnforcerConcurrency)
	}
	return nil
}

func validateEmail(v string) error {
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" {
		return fmt.Errorf("%q is not a plain e-mail address (name@example.com)", v)
	}
	return nil
}

func validateRetention(n int) error {
	i := sort.SearchInts(RetentionDays, n)
	if i < len(RetentionDays) && RetentionDays[i] == n {
		return nil
	}
	return fmt.Errorf("%d is not a CloudWatch Logs retention (one of %v)", n, RetentionDays)
}

// str reads a string value. ok is false for an absent key (nil).
func str(v any) (s string, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return strings.TrimSpace(x), true, nil
	}
	return "", false, fmt.Errorf("want a string, got %T %v", v, v)
}

// strList reads a list: a JSON array of strings (cdk.json) or a
// comma-separated string (`-c key=a,b`). Items are trimmed; empty items and
// duplicates are dropped, keeping the first occurrence's order.
func strList(v any) (items []string, ok bool, err error) {
	var raw []string
	switch x := v.(type) {
	case nil:
		return nil, false, nil
	case string:
		raw = strings.Split(x, ",")
	case []string:
		raw = x
	case []any:
		for i, it := range x {
			s, isStr := it.(string)
			if !isStr {
				return nil, false, fmt.Errorf("item %d: want a string, got %T %v", i, it, it)
			}
			raw = append(raw, s)
		}
	default:
		return nil, false, fmt.Errorf("want a list of strings or a comma-separated string, got %T %v", v, v)
	}
	items = []string{}
	seen := map[string]bool{}
	for _, it := range raw {
		it = strings.TrimSpace(it)
		if it == "" || seen[it] {
			continue
		}
		seen[it] = true
		items = append(items, it)
	}
	return items, true, nil
}

// boolean reads true/false or the strings "true"/"false".
func boolean(v any) (b, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return false, false, nil
	case bool:
		return x, true, nil
	case string:
		switch strings.TrimSpace(x) {
		case "true":
			return true, true, nil
		case "false":
			return false, true, nil
		}
	}
	return false, false, fmt.Errorf("want true or false, got %T %v", v, v)
}

// integer reads a whole JSON number or a decimal string.
func integer(v any) (n int, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return 0, false, nil
	case float64:
		if x != float64(int(x)) {
			return 0, false, fmt.Errorf("want a whole number, got %v", x)
		}
		return int(x), true, nil
	case int:
		return x, true, nil
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return 0, false, fmt.Errorf("want a whole number, got %q", x)
		}
		return n, true, nil
	}
	return 0, false, fmt.Errorf("want a whole number, got %T %v", v, v)
}
