// Package config provides the guardrail's one typed configuration, read from
// GUARDRAIL_* environment variables and validated as a whole, so that a Lambda
// with a bad setting fails at start with a message naming the variable and the
// value instead of guessing (DESIGN.md §6).
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iamguardrail/guardrail/pkg/trust"
)

// Mode says what one control (trusted access or lockdown) does.
type Mode string

// The modes of DESIGN.md §6.
const (
	// Enforce changes roles. It is the default: a guardrail that only
	// watches has to be asked for.
	Enforce Mode = "enforce"
	// Check evaluates and records what it would do without changing anything.
	Check Mode = "check"
	// Skip turns the control off.
	Skip Mode = "skip"
)

// Environment variable names. They are part of the deployment contract with
// the CDK app (infra/) and must never be renamed.
const (
	// EnvMode is the default mode for both controls (default enforce).
	EnvMode = "GUARDRAIL_MODE"
	// EnvTrustMode overrides EnvMode for the trusted-access control.
	EnvTrustMode = "GUARDRAIL_TRUST_MODE"
	// EnvLockdownMode overrides EnvMode for the lockdown control.
	EnvLockdownMode = "GUARDRAIL_LOCKDOWN_MODE"
	// EnvTrustedAccounts lists trusted 12-digit account IDs, comma-separated.
	EnvTrustedAccounts = "GUARDRAIL_TRUSTED_ACCOUNTS"
	// EnvTrustedOrgIDs lists trusted organization IDs (o-…), comma-separated.
	EnvTrustedOrgIDs = "GUARDRAIL_TRUSTED_ORG_IDS"
	// EnvTrustedAudiences lists the application IDs (audiences) of public
	// web identity providers (Cognito identity pool IDs, Google client IDs,
	// Facebook app IDs, Login with Amazon app IDs), comma-separated, that
	// trust policies may admit.
	EnvTrustedAudiences = "GUARDRAIL_TRUSTED_AUDIENCES"
	// EnvTrustedOIDCTenants lists the owners of shared OIDC issuers
	// (GitHub, GitLab.com, HCP Terraform, …) that trust policies may admit,
	// comma-separated KIND:IDENTIFIER entries such as
	// github:acme-corp,github-id:123456,gitlab:acme-group (trust.ValidateTenant).
	// Empty keeps any owner a statement names, flagged as unchecked.
	EnvTrustedOIDCTenants = "GUARDRAIL_TRUSTED_OIDC_TENANTS"
	// EnvExemptRoles lists exemption globs on role name or path, comma-separated.
	EnvExemptRoles = "GUARDRAIL_EXEMPT_ROLES"
	// EnvProtectedRoleARNs lists the guardrail's own role ARNs ('*' and '?'
	// wildcards allowed after "role/"), comma-separated.
	EnvProtectedRoleARNs = "GUARDRAIL_PROTECTED_ROLE_ARNS"
	// EnvLockdownPolicyARN is the ARN of the lockdown managed policy.
	EnvLockdownPolicyARN = "GUARDRAIL_LOCKDOWN_POLICY_ARN"
	// EnvRevokeSessions is "true" (default) or "false": whether removing an
	// external principal also revokes the role's older sessions (DESIGN.md §5).
	EnvRevokeSessions = "GUARDRAIL_REVOKE_SESSIONS"
	// EnvMetricsNamespace is the CloudWatch namespace of the EMF counters.
	EnvMetricsNamespace = "GUARDRAIL_METRICS_NAMESPACE"
	// EnvLockdownExtraActions lists the operator-added actions of the
	// lockdown document (the stack's extraDeniedActions), comma-separated,
	// so the functions build the same document as the stack and can restore
	// it when its default version is changed.
	EnvLockdownExtraActions = "GUARDRAIL_LOCKDOWN_EXTRA_ACTIONS"
	// EnvLockdownAlarmKeyARN is the ARN of the KMS key of the alarm topic,
	// which the lockdown document protects (lockdown.Config.AlarmKeyARN).
	EnvLockdownAlarmKeyARN = "GUARDRAIL_LOCKDOWN_ALARM_KEY_ARN"
	// EnvLockdownProtectedBuckets lists the S3 buckets the lockdown document
	// protects (lockdown.Config.ProtectedBuckets), comma-separated.
	EnvLockdownProtectedBuckets = "GUARDRAIL_LOCKDOWN_PROTECTED_BUCKETS"
	// EnvAllowedTokenAudiences lists the audiences service roles may mint
	// outbound identity tokens for (lockdown.Config.AllowedTokenAudiences),
	// comma-separated; empty denies every token.
	EnvAllowedTokenAudiences = "GUARDRAIL_ALLOWED_TOKEN_AUDIENCES"
	// EnvConsistencyWindow is how long after an event IAM's reads may still
	// not show the role it names (a Go duration such as "2m"); see
	// DefaultConsistencyWindow.
	EnvConsistencyWindow = "GUARDRAIL_CONSISTENCY_WINDOW"
	// EnvRecheckQueueURL is the URL of the SQS delay queue through which the
	// enforcer re-checks each trust change once IAM's consistency window
	// has passed (README "Consistency"); empty: no re-checks.
	EnvRecheckQueueURL = "GUARDRAIL_RECHECK_QUEUE_URL"
	// EnvMemberRoleName is the name of the role the hub assumes in each
	// member account of an organization (DESIGN.md §11), for example
	// DefaultMemberRoleName. Setting it turns on hub mode: the functions act
	// in the account each event names, through that role, instead of their
	// own account.
	EnvMemberRoleName = "GUARDRAIL_MEMBER_ROLE_NAME"
	// EnvMemberAccounts lists the member accounts the hub guards,
	// comma-separated 12-digit IDs. Empty: the organization's accounts, from
	// organizations:ListAccounts (sweeper) and DescribeAccount (enforcer).
	// Hub mode only.
	EnvMemberAccounts = "GUARDRAIL_MEMBER_ACCOUNTS"
	// EnvSweepConcurrency is how many member accounts the hub's sweeper
	// sweeps at once (default DefaultSweepConcurrency). Hub mode only.
	EnvSweepConcurrency = "GUARDRAIL_SWEEP_CONCURRENCY"
	// EnvPrevention is what the hub stack does with the organization
	// policies of issue 18 (the prevention context, README "Prevention"):
	// PreventionOff (default), PreventionCheck or PreventionEnforce. With
	// enforce the hub's sweeper compares the deployed perimeter policies
	// with what the configuration renders and reports drift. Hub mode only.
	EnvPrevention = "GUARDRAIL_PREVENTION"
	// EnvPreventionTargets lists the organizational units and roots
	// (ou-…, r-…) the perimeter policies are attached to, comma-separated:
	// the hub stack's organization.memberOUs, or the root for "all".
	// Required with EnvPrevention=enforce. Hub mode only.
	EnvPreventionTargets = "GUARDRAIL_PREVENTION_TARGETS"
)

// The values of EnvPrevention, the hub stack's prevention context.
const (
	// PreventionOff: no organization policies; nothing to compare.
	PreventionOff = "off"
	// PreventionCheck: the policies are rendered for review and nothing
	// is deployed, so there is nothing to compare either.
	PreventionCheck = "check"
	// PreventionEnforce: the policies are deployed and attached to
	// PreventionTargets; the sweeper reports their drift.
	PreventionEnforce = "enforce"
)

// DefaultMemberRoleName is the member role's name in the organization
// stacks (infra/): the role every member account holds for the hub.
const DefaultMemberRoleName = "IamRoleGuardrail-Member"

// DefaultSweepConcurrency and MaxSweepConcurrency bound how many member
// accounts a hub sweep works on at once. Each account has its own IAM rate
// limits, so accounts in parallel do not throttle each other; the bound
// keeps the function's memory and its STS calls per second small.
const (
	DefaultSweepConcurrency = 8
	MaxSweepConcurrency     = 64
)

// DefaultConsistencyWindow bounds IAM's propagation delay: a role that
// GetRole does not show (NoSuchEntity) this long after the event that named
// it is taken as deleted (outcome role-gone). AWS publishes no figure: IAM
// writes replicate from us-east-1 (IAM User Guide, "Resilience in IAM",
// https://docs.aws.amazon.com/IAM/latest/UserGuide/disaster-recovery-resiliency.html),
// field reports put the delay at under a second to a few seconds and
// sometimes over 60 s, and the guide warns that policy updates "might take a
// few minutes" to take effect for temporary credentials
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_disable-perms.html;
// ../shared/reference/aws-facts.md §2.7). Two minutes is twice the longest
// delay reported and ends before Lambda's second retry of an event.
const DefaultConsistencyWindow = 2 * time.Minute

// MinConsistencyWindow and MaxConsistencyWindow bound EnvConsistencyWindow:
// shorter would call a role that IAM still hides deleted; longer than an
// hour would leave every event for a role that CloudFormation created and
// rolled back failing for that long (Lambda keeps an event six hours).
const (
	MinConsistencyWindow = 10 * time.Second
	MaxConsistencyWindow = time.Hour
)

// DefaultMetricsNamespace is used when EnvMetricsNamespace is unset.
const DefaultMetricsNamespace = "IamRoleGuardrail"

// Config is the validated configuration of one guardrail deployment. The own
// account is not part of it: it is taken from each role's ARN.
type Config struct {
	// TrustMode and LockdownMode are the per-control modes after applying
	// the global default.
	TrustMode, LockdownMode Mode
	// TrustedAccounts holds 12-digit account IDs whose principals may stay
	// in trust policies, in configuration order, without duplicates.
	TrustedAccounts []string
	// TrustedOrgIDs holds organization IDs that restricting conditions
	// (aws:PrincipalOrgID) may name.
	TrustedOrgIDs []string
	// TrustedAudiences holds the audiences (application IDs) of public web
	// identity providers that may stay: such a provider is kept only when
	// every audience it may receive is listed.
	TrustedAudiences []string
	// TrustedOIDCTenants holds the owners of shared OIDC issuers that may
	// stay (trust.Zone.TrustedOIDCTenants); empty checks no tenant.
	TrustedOIDCTenants []string
	// ExemptRoles holds globs (path.Match syntax): without '/' they match
	// the role name, starting with '/' they match the role path.
	ExemptRoles []string
	// ProtectedRoleARNs holds the guardrail's own role ARNs or ARN globs;
	// those roles are never touched.
	ProtectedRoleARNs []string
	// LockdownPolicyARN is the managed policy attached to every service
	// role. Required unless LockdownMode is Skip.
	LockdownPolicyARN string
	// RevokeSessions says whether stripping an external principal also
	// revokes sessions issued before the change.
	RevokeSessions bool
	// MetricsNamespace is the CloudWatch namespace for EMF counters.
	MetricsNamespace string
	// LockdownExtraActions are the operator-added actions of the lockdown
	// document (lockdown.Config.ExtraDeniedActions).
	LockdownExtraActions []string
	// LockdownAlarmKeyARN is the alarm topic's KMS key the lockdown document
	// protects (lockdown.Config.AlarmKeyARN); "" when the stack has none.
	LockdownAlarmKeyARN string
	// LockdownProtectedBuckets are the S3 buckets the lockdown document
	// protects (lockdown.Config.ProtectedBuckets).
	LockdownProtectedBuckets []string
	// AllowedTokenAudiences are the outbound identity token audiences the
	// lockdown document allows (lockdown.Config.AllowedTokenAudiences).
	AllowedTokenAudiences []string
	// ConsistencyWindow is how long after an event a role that IAM does not
	// show may still be propagating (DefaultConsistencyWindow when zero).
	ConsistencyWindow time.Duration
	// RecheckQueueURL is the SQS queue the enforcer sends each trust change
	// to for its re-check; "" sends none.
	RecheckQueueURL string

	// MemberRoleName is the role the hub assumes in member accounts; ""
	// in single-account mode (Hub reports which).
	MemberRoleName string
	// MemberAccounts lists the member accounts the hub guards; empty means
	// every account of the organization.
	MemberAccounts []string
	// SweepConcurrency is how many member accounts a hub sweep works on at
	// once (0 in single-account mode).
	SweepConcurrency int
	// HubRoleARNs are the hub's own roles (its ProtectedRoleARNs) in a
	// member's configuration (Member); nil otherwise. The member role, a
	// guardrail-class role, trusts them, and the engine accepts exactly
	// these principals in the trust of guardrail-class roles, without
	// trusting the rest of the hub's account.
	HubRoleARNs []string
	// Prevention is PreventionOff, PreventionCheck or PreventionEnforce
	// (EnvPrevention); "" outside hub mode.
	Prevention string
	// PreventionTargets are the organizational units and roots the
	// perimeter policies are attached to (EnvPreventionTargets).
	PreventionTargets []string
}

// Hub reports whether the configuration is a hub's (DESIGN.md §11): the
// functions act in member accounts through MemberRoleName.
func (c Config) Hub() bool { return c.MemberRoleName != "" }

// LockdownPolicyARNIn returns the lockdown policy's ARN in account. In hub
// mode each member account holds its own lockdown policy under the same
// path and name, so EnvLockdownPolicyARN's partition, path and name are
// kept and its account field is replaced by the member's (the hub's own
// account in the variable is the convention). In single-account mode it
// is LockdownPolicyARN whatever account is given: the policy is the one
// the stack created.
func (c Config) LockdownPolicyARNIn(account string) string {
	if !c.Hub() || c.LockdownPolicyARN == "" {
		return c.LockdownPolicyARN
	}
	parts := strings.SplitN(c.LockdownPolicyARN, ":", 6)
	if len(parts) != 6 {
		return c.LockdownPolicyARN // validated by FromEnv; never reached
	}
	parts[4] = account
	return strings.Join(parts, ":")
}

// Partition returns the AWS partition of the deployment, from the
// lockdown policy's ARN (required in hub mode, where it also names the
// partition of the member role ARNs); "aws" when there is none.
func (c Config) Partition() string {
	if parts := strings.SplitN(c.LockdownPolicyARN, ":", 3); len(parts) == 3 && parts[0] == "arn" {
		return parts[1]
	}
	return "aws"
}

// MemberRoleARN returns the ARN of the member role in account.
func (c Config) MemberRoleARN(account string) string {
	return "arn:" + c.Partition() + ":iam::" + account + ":role/" + c.MemberRoleName
}

// Member returns the configuration the hub applies in a member account:
// the lockdown policy is the member's own (LockdownPolicyARNIn), the member
// role is protected like the guardrail's other roles (the engine never
// touches it), and when no organization is configured as trusted, the
// organization itself (orgID, from organizations:DescribeOrganization) is.
// The zone's own account needs no setting: the engine takes it from each
// role's ARN, which names the member.
func (c Config) Member(account, orgID string) Config {
	m := c
	m.LockdownPolicyARN = c.LockdownPolicyARNIn(account)
	m.ProtectedRoleARNs = append(slices.Clone(c.ProtectedRoleARNs), c.MemberRoleARN(account))
	if len(c.TrustedOrgIDs) == 0 && orgID != "" {
		m.TrustedOrgIDs = []string{orgID}
	}
	m.MemberAccounts = nil
	m.HubRoleARNs = slices.Clone(c.ProtectedRoleARNs)
	return m
}

// roleNameRe is an IAM role name (IAM API reference, CreateRole,
// RoleName: [\w+=,.@-]{1,64}).
var roleNameRe = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

// Error reports one invalid setting. Callers can use errors.As to tell a
// configuration error from other start-up failures.
type Error struct {
	Var   string // environment variable name
	Value string // offending value (one list item for list variables); "" when unset
	Err   error  // what is wrong; its message quotes the value
}

func (e *Error) Error() string { return e.Var + ": " + e.Err.Error() }

// Unwrap returns the underlying validation error.
func (e *Error) Unwrap() error { return e.Err }

var (
	accountIDRe = regexp.MustCompile(`^[0-9]{12}$`)
	// Organization IDs: "o-" then 10 to 32 lowercase letters or digits
	// (Organizations API reference, Organization.Id pattern).
	orgIDRe = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	// Partitions are "aws" or "aws-<suffix>" (aws-cn, aws-us-gov, aws-iso-b, …).
	partitionPat = `aws(?:-[a-z]+)*`
	// Managed policy ARN: optional path, name of [\w+=,.@-]{1,128}
	// (IAM API reference, CreatePolicy PolicyName and Path patterns).
	policyARNRe = regexp.MustCompile(`^arn:` + partitionPat + `:iam::[0-9]{12}:policy/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,128}$`)
	// Role ARN or ARN glob: literal partition and account, then "role/" and
	// a path+name made of IAM name characters, '/' and the wildcards * and ?.
	roleARNRe = regexp.MustCompile(`^arn:` + partitionPat + `:iam::[0-9]{12}:role/[\w+=,.@/*?-]+$`)
	// CloudWatch namespace characters (PutMetricData reference).
	namespaceRe = regexp.MustCompile(`^[A-Za-z0-9.\-_/#: ]{1,255}$`)
	// Policy targets as AWS Organizations names them (Organizations API
	// reference, AttachPolicy, TargetId: a root is "r-" and 4-32
	// lowercase letters or digits; an OU "ou-", the 4-32 of its root, "-"
	// and 8-32 lowercase letters or digits).
	ouIDRe   = regexp.MustCompile(`^ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$`)
	rootIDRe = regexp.MustCompile(`^r-[a-z0-9]{4,32}$`)
	// Characters of role names and paths (IAM API reference, CreateRole),
	// plus the path.Match metacharacters.
	globRe = regexp.MustCompile(`^[\w+=,.@/*?\[\]^!\\-]+$`)
)

// ParseMode parses a mode name. Surrounding space and letter case are
// ignored; anything but enforce, check and skip is an error, never a default.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case Enforce, Check, Skip:
		return m, nil
	}
	return "", fmt.Errorf("%q is not a mode (want %s, %s or %s)", s, Enforce, Check, Skip)
}

// ValidateAccountID reports whether s is a 12-digit AWS account ID.
func ValidateAccountID(s string) error {
	if !accountIDRe.MatchString(s) {
		return fmt.Errorf("%q is not a 12-digit account ID", s)
	}
	return nil
}

// ValidateOrgID reports whether s is an AWS Organizations ID (o- followed by
// 10 to 32 lowercase letters or digits).
func ValidateOrgID(s string) error {
	if !orgIDRe.MatchString(s) {
		return fmt.Errorf("%q is not an organization ID (o- followed by 10-32 lowercase letters or digits)", s)
	}
	return nil
}

// ValidatePolicyTarget reports whether s is an organizational unit ID
// (ou-…) or a root ID (r-…), a target the perimeter policies are attached
// to. Accounts are not: the hub stack attaches them to OUs or the root.
func ValidatePolicyTarget(s string) error {
	if !ouIDRe.MatchString(s) && !rootIDRe.MatchString(s) {
		return fmt.Errorf("%q is not an organizational unit ID (ou-…) or root ID (r-…)", s)
	}
	return nil
}

// ValidateAudience reports whether s can be a trusted audience: an
// application ID as the provider issues it (a Cognito identity pool ID such
// as us-east-1:…, a Google client ID, a Facebook or Login with Amazon app
// ID). It must be literal: no wildcard, white space or comma, at most 256
// characters, so that a setting can never trust every application.
func ValidateAudience(s string) error {
	switch {
	case s == "":
		return errors.New("empty audience")
	case len(s) > 256:
		return fmt.Errorf("%q is longer than 256 characters", s)
	case strings.ContainsAny(s, "*?, \t\n"):
		return fmt.Errorf("%q holds a wildcard, comma or white space; list each application ID literally", s)
	}
	return nil
}

// ValidateGlob reports whether s is a usable exemption glob. A glob without
// '/' matches role names; a glob starting with '/' matches role paths (which
// IAM always begins and ends with '/'). Syntax is path.Match's, so '*' never
// crosses a '/'. A glob that exempts (almost) every role is refused: one
// without a literal character ("*", "?*", "[a-z]*"; for a path glob, none
// besides '/'), and a path glob matching the root path "/", where most roles
// live. Exempt roles are never touched, so such a glob would switch the
// guardrail off, which is what GUARDRAIL_MODE=skip is for; an exemption list
// is no place to do that by accident, nor an attacker's way out by naming.
func ValidateGlob(s string) error {
	switch {
	case s == "":
		return errors.New("empty exemption glob")
	case len(s) > 512:
		return fmt.Errorf("%q is longer than 512 characters (IAM's path limit)", s)
	case !globRe.MatchString(s):
		return fmt.Errorf("%q contains characters that cannot occur in a role name or path", s)
	case strings.Contains(s, "/") && !strings.HasPrefix(s, "/"):
		return fmt.Errorf("%q contains '/' but does not start with it: name globs have no '/', path globs start with '/'", s)
	}
	if _, err := path.Match(s, ""); err != nil {
		return fmt.Errorf("%q is not a valid glob: %w", s, err)
	}
	if root, _ := path.Match(s, "/"); root || !hasLiteral(s) {
		return fmt.Errorf("%q would exempt every role (or every role at a path anyone may choose); use %s=skip to turn the guardrail off", s, EnvMode)
	}
	return nil
}

// hasLiteral reports whether glob s (path.Match syntax, already validated)
// holds a character that must appear as such in a match, other than '/':
// not a wildcard, not inside a [...] class.
func hasLiteral(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '/':
		case '[':
			// Skip the class; path.Match accepted s, so it is closed.
			// A ']' right after '[' or "[^" is a member, not the end.
			j := i + 1
			if j < len(s) && s[j] == '^' {
				j++
			}
			if j < len(s) && s[j] == ']' {
				j++
			}
			for j < len(s) && s[j] != ']' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			i = j
		case '\\':
			return true // an escaped character is a literal
		default:
			return true
		}
	}
	return false
}

// MinProtectedPrefix is how many literal characters a protected-role ARN
// pattern must have after "role/" before its first wildcard.
const MinProtectedPrefix = 4

// ValidateRoleARNPattern reports whether s is a role ARN, or a role ARN with
// '*' or '?' wildcards after "role/", in a literal partition and account.
// A wildcard must follow at least MinProtectedPrefix literal characters:
// protected roles are never touched, so "role/*" would switch the guardrail
// off for every role (GUARDRAIL_MODE=skip is for that) and a short prefix
// would let anyone escape by naming a role to match it.
func ValidateRoleARNPattern(s string) error {
	if !roleARNRe.MatchString(s) {
		return fmt.Errorf("%q is not a role ARN (arn:<partition>:iam::<12 digits>:role/<path/name>, '*' and '?' allowed after role/)", s)
	}
	_, res, _ := strings.Cut(s, ":role/")
	if i := strings.IndexAny(res, "*?"); i >= 0 && i < MinProtectedPrefix {
		return fmt.Errorf("%q protects too many roles: a wildcard needs at least %d literal characters after role/ before it", s, MinProtectedPrefix)
	}
	return nil
}

// ValidatePolicyARN reports whether s is a customer-managed policy ARN
// (arn:<partition>:iam::<12 digits>:policy/[path/]name).
func ValidatePolicyARN(s string) error {
	if !policyARNRe.MatchString(s) {
		return fmt.Errorf("%q is not a managed policy ARN (arn:<partition>:iam::<12 digits>:policy/<name>)", s)
	}
	return nil
}

// actionRe is an IAM action as the lockdown document takes it: a service
// prefix, a colon and an action name, '*' and '?' allowed in the name.
var actionRe = regexp.MustCompile(`^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$`)

// ValidateAction reports whether s is an IAM action ("service:Action",
// wildcards allowed in the action part), the form of
// EnvLockdownExtraActions items. pkg/lockdown checks the same list again
// when it builds the document.
func ValidateAction(s string) error {
	if !actionRe.MatchString(s) {
		return fmt.Errorf("%q is not an IAM action (service:Action)", s)
	}
	return nil
}

// ValidateMetricsNamespace reports whether s is a CloudWatch namespace a
// customer may publish to (1-255 allowed characters, not starting with "AWS/",
// which is reserved for AWS services).
func ValidateMetricsNamespace(s string) error {
	if !namespaceRe.MatchString(s) {
		return fmt.Errorf("%q is not a CloudWatch namespace (1-255 of A-Z a-z 0-9 . - _ / # : space)", s)
	}
	if strings.HasPrefix(s, "AWS/") {
		return fmt.Errorf("%q uses the AWS/ prefix reserved for AWS services", s)
	}
	return nil
}

// FromEnv reads and validates the configuration. getenv is os.Getenv in a
// Lambda and a map lookup in tests. Every invalid setting is reported, joined
// into one error whose parts are *Error values.
func FromEnv(getenv func(string) string) (Config, error) {
	var errs []error
	fail := func(name, value string, err error) {
		errs = append(errs, &Error{Var: name, Value: value, Err: err})
	}

	c := Config{RevokeSessions: true, MetricsNamespace: DefaultMetricsNamespace}

	global := Enforce
	if v := strings.TrimSpace(getenv(EnvMode)); v != "" {
		m, err := ParseMode(v)
		if err != nil {
			fail(EnvMode, v, err)
		} else {
			global = m
		}
	}
	modeOf := func(name string) Mode {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return global
		}
		m, err := ParseMode(v)
		if err != nil {
			fail(name, v, err)
			return global
		}
		return m
	}
	c.TrustMode = modeOf(EnvTrustMode)
	c.LockdownMode = modeOf(EnvLockdownMode)

	list := func(name string, validate func(string) error) []string {
		items := splitList(getenv(name))
		for _, it := range items {
			if err := validate(it); err != nil {
				fail(name, it, err)
			}
		}
		return items
	}
	c.TrustedAccounts = list(EnvTrustedAccounts, ValidateAccountID)
	c.TrustedOrgIDs = list(EnvTrustedOrgIDs, ValidateOrgID)
	c.TrustedAudiences = list(EnvTrustedAudiences, ValidateAudience)
	c.TrustedOIDCTenants = list(EnvTrustedOIDCTenants, trust.ValidateTenant)
	c.ExemptRoles = list(EnvExemptRoles, ValidateGlob)
	c.ProtectedRoleARNs = list(EnvProtectedRoleARNs, ValidateRoleARNPattern)

	c.LockdownPolicyARN = strings.TrimSpace(getenv(EnvLockdownPolicyARN))
	switch {
	case c.LockdownPolicyARN != "":
		if err := ValidatePolicyARN(c.LockdownPolicyARN); err != nil {
			fail(EnvLockdownPolicyARN, c.LockdownPolicyARN, err)
		}
	case c.LockdownMode != Skip:
		errs = append(errs, &Error{Var: EnvLockdownPolicyARN,
			Err: fmt.Errorf("not set; it is required when the lockdown mode is %s (set it, or set %s=skip)", c.LockdownMode, EnvLockdownMode)})
	}

	if v := strings.TrimSpace(getenv(EnvRevokeSessions)); v != "" {
		switch v {
		case "true":
			c.RevokeSessions = true
		case "false":
			c.RevokeSessions = false
		default:
			fail(EnvRevokeSessions, v, fmt.Errorf("%q is not true or false", v))
		}
	}

	if v := strings.TrimSpace(getenv(EnvMetricsNamespace)); v != "" {
		if err := ValidateMetricsNamespace(v); err != nil {
			fail(EnvMetricsNamespace, v, err)
		}
		c.MetricsNamespace = v
	}

	c.LockdownExtraActions = list(EnvLockdownExtraActions, ValidateAction)
	// The lockdown document's other inputs are checked where the document
	// is built (pkg/lockdown), which refuses what it cannot write.
	c.LockdownAlarmKeyARN = strings.TrimSpace(getenv(EnvLockdownAlarmKeyARN))
	c.LockdownProtectedBuckets = list(EnvLockdownProtectedBuckets, func(string) error { return nil })
	c.AllowedTokenAudiences = list(EnvAllowedTokenAudiences, func(string) error { return nil })

	c.ConsistencyWindow = DefaultConsistencyWindow
	if v := strings.TrimSpace(getenv(EnvConsistencyWindow)); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			fail(EnvConsistencyWindow, v, fmt.Errorf("%q is not a duration (e.g. 2m, 90s)", v))
		case d < MinConsistencyWindow || d > MaxConsistencyWindow:
			fail(EnvConsistencyWindow, v, fmt.Errorf("%q is outside %s to %s", v, MinConsistencyWindow, MaxConsistencyWindow))
		default:
			c.ConsistencyWindow = d
		}
	}

	if v := strings.TrimSpace(getenv(EnvRecheckQueueURL)); v != "" {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			fail(EnvRecheckQueueURL, v, fmt.Errorf("%q is not an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)", v))
		} else {
			c.RecheckQueueURL = v
		}
	}
	hubErrs := c.hubFromEnv(getenv, list) // list may append to errs itself
	errs = append(errs, hubErrs...)

	if len(errs) > 0 {
		return Config{}, fmt.Errorf("invalid guardrail configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// hubFromEnv reads the hub-mode settings into c and returns what is wrong
// with them. Outside hub mode the hub-only variables are refused rather than
// ignored: an operator who sets them expects a hub.
func (c *Config) hubFromEnv(getenv func(string) string, list func(string, func(string) error) []string) []error {
	var errs []error
	c.MemberRoleName = strings.TrimSpace(getenv(EnvMemberRoleName))
	c.MemberAccounts = list(EnvMemberAccounts, ValidateAccountID)
	conc := strings.TrimSpace(getenv(EnvSweepConcurrency))
	prevention := strings.TrimSpace(getenv(EnvPrevention))
	c.PreventionTargets = list(EnvPreventionTargets, ValidatePolicyTarget)
	if !c.Hub() {
		c.PreventionTargets = nil
		for _, v := range []struct{ name, value string }{{EnvMemberAccounts, strings.Join(c.MemberAccounts, ",")}, {EnvSweepConcurrency, conc},
			{EnvPrevention, prevention}, {EnvPreventionTargets, strings.TrimSpace(getenv(EnvPreventionTargets))}} {
			if v.value != "" {
				errs = append(errs, &Error{Var: v.name, Value: v.value, Err: fmt.Errorf("only used in hub mode; set %s as well, or unset it", EnvMemberRoleName)})
			}
		}
		return errs
	}
	if !roleNameRe.MatchString(c.MemberRoleName) {
		errs = append(errs, &Error{Var: EnvMemberRoleName, Value: c.MemberRoleName, Err: fmt.Errorf("%q is not an IAM role name (1-64 of letters, digits and +=,.@_-)", c.MemberRoleName)})
	}
	if c.LockdownPolicyARN == "" {
		errs = append(errs, &Error{Var: EnvLockdownPolicyARN, Err: errors.New("not set; hub mode needs it to name each member's lockdown policy (partition, path and name; the account is each member's)")})
	}
	c.SweepConcurrency = DefaultSweepConcurrency
	if conc != "" {
		n, err := strconv.Atoi(conc)
		if err != nil || n < 1 || n > MaxSweepConcurrency {
			errs = append(errs, &Error{Var: EnvSweepConcurrency, Value: conc, Err: fmt.Errorf("%q is not a whole number from 1 to %d", conc, MaxSweepConcurrency)})
		} else {
			c.SweepConcurrency = n
		}
	}
	switch prevention {
	case "", PreventionOff:
		c.Prevention = PreventionOff
	case PreventionCheck, PreventionEnforce:
		c.Prevention = prevention
	default:
		c.Prevention = PreventionOff
		errs = append(errs, &Error{Var: EnvPrevention, Value: prevention, Err: fmt.Errorf("%q is not %s, %s or %s", prevention, PreventionOff, PreventionCheck, PreventionEnforce)})
	}
	if c.Prevention == PreventionEnforce && len(c.PreventionTargets) == 0 {
		errs = append(errs, &Error{Var: EnvPreventionTargets, Err: fmt.Errorf("not set; %s=%s needs the OUs or root the perimeter policies are attached to", EnvPrevention, PreventionEnforce)})
	}
	return errs
}

// splitList splits a comma-separated value, trims each item, drops empty
// items and duplicates, and keeps the first occurrence's order so the
// result (and every log line made from it) is deterministic.
func splitList(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, it := range strings.Split(s, ",") {
		it = strings.TrimSpace(it)
		if it == "" || seen[it] {
			continue
		}
		seen[it] = true
		out = append(out, it)
	}
	return out
}

// String renders the configuration on one line for start-up logs. It holds
// no secrets: every value is an identifier an operator configured.
func (c Config) String() string {
	return fmt.Sprintf("trust_mode=%s lockdown_mode=%s trusted_accounts=[%s] trusted_org_ids=[%s] trusted_audiences=[%s] trusted_oidc_tenants=[%s] exempt_roles=[%s] protected_role_arns=[%s] lockdown_policy_arn=%s revoke_sessions=%t metrics_namespace=%s lockdown_extra_actions=[%s] lockdown_alarm_key_arn=%s lockdown_protected_buckets=[%s] allowed_token_audiences=[%s] consistency_window=%s recheck_queue_url=%s",
		c.TrustMode, c.LockdownMode,
		strings.Join(c.TrustedAccounts, ","), strings.Join(c.TrustedOrgIDs, ","), strings.Join(c.TrustedAudiences, ","),
		strings.Join(c.TrustedOIDCTenants, ","), strings.Join(c.ExemptRoles, ","), strings.Join(c.ProtectedRoleARNs, ","),
		c.LockdownPolicyARN, c.RevokeSessions, c.MetricsNamespace,
		strings.Join(c.LockdownExtraActions, ","), c.LockdownAlarmKeyARN, strings.Join(c.LockdownProtectedBuckets, ","), strings.Join(c.AllowedTokenAudiences, ","), c.ConsistencyWindow, c.RecheckQueueURL) +
		c.hubString()
}

// hubString renders the hub settings for String; "" outside hub mode, so
// a single-account deployment logs what it always logged.
func (c Config) hubString() string {
	if !c.Hub() {
		return ""
	}
	return fmt.Sprintf(" member_role_name=%s member_accounts=[%s] sweep_concurrency=%d prevention=%s prevention_targets=[%s]",
		c.MemberRoleName, strings.Join(c.MemberAccounts, ","), c.SweepConcurrency, c.Prevention, strings.Join(c.PreventionTargets, ","))
}

// LogValue implements slog.LogValuer so a Lambda logs its configuration once
// at start as a structured group with snake_case keys.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("trust_mode", string(c.TrustMode)),
		slog.String("lockdown_mode", string(c.LockdownMode)),
		slog.Any("trusted_accounts", nonNil(c.TrustedAccounts)),
		slog.Any("trusted_org_ids", nonNil(c.TrustedOrgIDs)),
		slog.Any("trusted_audiences", nonNil(c.TrustedAudiences)),
		slog.Any("trusted_oidc_tenants", nonNil(c.TrustedOIDCTenants)),
		slog.Any("exempt_roles", nonNil(c.ExemptRoles)),
		slog.Any("protected_role_arns", nonNil(c.ProtectedRoleARNs)),
		slog.String("lockdown_policy_arn", c.LockdownPolicyARN),
		slog.Bool("revoke_sessions", c.RevokeSessions),
		slog.String("metrics_namespace", c.MetricsNamespace),
		slog.Any("lockdown_extra_actions", nonNil(c.LockdownExtraActions)),
		slog.String("lockdown_alarm_key_arn", c.LockdownAlarmKeyARN),
		slog.Any("lockdown_protected_buckets", nonNil(c.LockdownProtectedBuckets)),
		slog.Any("allowed_token_audiences", nonNil(c.AllowedTokenAudiences)),
		slog.String("consistency_window", c.ConsistencyWindow.String()),
		slog.String("recheck_queue_url", c.RecheckQueueURL),
	}
	if c.Hub() {
		attrs = append(attrs,
			slog.String("member_role_name", c.MemberRoleName),
			slog.Any("member_accounts", nonNil(c.MemberAccounts)),
			slog.Int("sweep_concurrency", c.SweepConcurrency),
			slog.String("prevention", c.Prevention),
			slog.Any("prevention_targets", nonNil(c.PreventionTargets)))
	}
	return slog.GroupValue(attrs...)
}

// nonNil makes empty lists log as [] rather than null, so saved queries on
// the start-up record see one type.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
