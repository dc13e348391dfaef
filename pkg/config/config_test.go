package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const testPolicyARN = "arn:aws:iam::111122223333:policy/GuardrailLockdown"

// env returns a getenv over m, with a valid lockdown policy ARN unless m
// sets that variable itself (use "" to unset it).
func env(m map[string]string) func(string) string {
	full := map[string]string{EnvLockdownPolicyARN: testPolicyARN}
	for k, v := range m {
		full[k] = v
	}
	return func(k string) string { return full[k] }
}

func TestFromEnvDefaults(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		TrustMode:         Enforce,
		LockdownMode:      Enforce,
		LockdownPolicyARN: testPolicyARN,
		RevokeSessions:    true,
		MetricsNamespace:  DefaultMetricsNamespace,
		ConsistencyWindow: DefaultConsistencyWindow,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("FromEnv(defaults) = %+v, want %+v", c, want)
	}
}

func TestFromEnvValid(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{"global mode applies to both", map[string]string{EnvMode: "check"}, func(t *testing.T, c Config) {
			if c.TrustMode != Check || c.LockdownMode != Check {
				t.Errorf("modes = %s/%s, want check/check", c.TrustMode, c.LockdownMode)
			}
		}},
		{"trust mode overrides global", map[string]string{EnvMode: "check", EnvTrustMode: "enforce"}, func(t *testing.T, c Config) {
			if c.TrustMode != Enforce || c.LockdownMode != Check {
				t.Errorf("modes = %s/%s, want enforce/check", c.TrustMode, c.LockdownMode)
			}
		}},
		{"lockdown mode overrides global", map[string]string{EnvLockdownMode: "check"}, func(t *testing.T, c Config) {
			if c.TrustMode != Enforce || c.LockdownMode != Check {
				t.Errorf("modes = %s/%s, want enforce/check", c.TrustMode, c.LockdownMode)
			}
		}},
		{"mode case and space ignored", map[string]string{EnvMode: "  SKIP "}, func(t *testing.T, c Config) {
			if c.TrustMode != Skip || c.LockdownMode != Skip {
				t.Errorf("modes = %s/%s, want skip/skip", c.TrustMode, c.LockdownMode)
			}
		}},
		{"lockdown skip needs no policy ARN", map[string]string{EnvLockdownMode: "skip", EnvLockdownPolicyARN: ""}, func(t *testing.T, c Config) {
			if c.LockdownMode != Skip || c.LockdownPolicyARN != "" {
				t.Errorf("got %+v", c)
			}
		}},
		{"accounts trimmed, empties and duplicates dropped, order kept",
			map[string]string{EnvTrustedAccounts: " 222233334444 ,,111122223333, 222233334444,"}, func(t *testing.T, c Config) {
				if want := []string{"222233334444", "111122223333"}; !reflect.DeepEqual(c.TrustedAccounts, want) {
					t.Errorf("TrustedAccounts = %q, want %q", c.TrustedAccounts, want)
				}
			}},
		{"audiences", map[string]string{EnvTrustedAudiences: " us-east-1:12345678-abcd-abcd-abcd-123456789012 ,1234567890,1234567890"}, func(t *testing.T, c Config) {
			if want := []string{"us-east-1:12345678-abcd-abcd-abcd-123456789012", "1234567890"}; !reflect.DeepEqual(c.TrustedAudiences, want) {
				t.Errorf("TrustedAudiences = %q, want %q", c.TrustedAudiences, want)
			}
		}},
		// Issue 22 §5: owners of shared OIDC issuers, KIND:IDENTIFIER.
		{"OIDC tenants", map[string]string{EnvTrustedOIDCTenants: "github:acme-corp, github-id:123456,github-repo-id:987654,github-enterprise-id:42,gitlab:acme-group,terraform:acme"}, func(t *testing.T, c Config) {
			if want := []string{"github:acme-corp", "github-id:123456", "github-repo-id:987654", "github-enterprise-id:42", "gitlab:acme-group", "terraform:acme"}; !reflect.DeepEqual(c.TrustedOIDCTenants, want) {
				t.Errorf("TrustedOIDCTenants = %q, want %q", c.TrustedOIDCTenants, want)
			}
		}},
		{"org IDs", map[string]string{EnvTrustedOrgIDs: "o-a1b2c3d4e5,o-abcdefghij0123456789abcdefghij01"}, func(t *testing.T, c Config) {
			if len(c.TrustedOrgIDs) != 2 {
				t.Errorf("TrustedOrgIDs = %q", c.TrustedOrgIDs)
			}
		}},
		{"exempt globs on name and path", map[string]string{EnvExemptRoles: "ci-*,/breakglass/*,OrganizationAccountAccessRole,deploy-[a-z]?"}, func(t *testing.T, c Config) {
			if want := []string{"ci-*", "/breakglass/*", "OrganizationAccountAccessRole", "deploy-[a-z]?"}; !reflect.DeepEqual(c.ExemptRoles, want) {
				t.Errorf("ExemptRoles = %q, want %q", c.ExemptRoles, want)
			}
		}},
		{"protected role ARNs and globs", map[string]string{EnvProtectedRoleARNs: "arn:aws:iam::111122223333:role/IamRoleGuardrail-*,arn:aws-us-gov:iam::111122223333:role/ops/Guard?"}, func(t *testing.T, c Config) {
			if len(c.ProtectedRoleARNs) != 2 {
				t.Errorf("ProtectedRoleARNs = %q", c.ProtectedRoleARNs)
			}
		}},
		{"policy ARN with path", map[string]string{EnvLockdownPolicyARN: " arn:aws-cn:iam::111122223333:policy/guard/rail/GuardrailLockdown "}, func(t *testing.T, c Config) {
			if c.LockdownPolicyARN != "arn:aws-cn:iam::111122223333:policy/guard/rail/GuardrailLockdown" {
				t.Errorf("LockdownPolicyARN = %q", c.LockdownPolicyARN)
			}
		}},
		{"revoke sessions false", map[string]string{EnvRevokeSessions: "false"}, func(t *testing.T, c Config) {
			if c.RevokeSessions {
				t.Error("RevokeSessions = true, want false")
			}
		}},
		{"revoke sessions true", map[string]string{EnvRevokeSessions: " true"}, func(t *testing.T, c Config) {
			if !c.RevokeSessions {
				t.Error("RevokeSessions = false, want true")
			}
		}},
		{"metrics namespace", map[string]string{EnvMetricsNamespace: "Security/Guardrail"}, func(t *testing.T, c Config) {
			if c.MetricsNamespace != "Security/Guardrail" {
				t.Errorf("MetricsNamespace = %q", c.MetricsNamespace)
			}
		}},
		{"lockdown extra actions", map[string]string{EnvLockdownExtraActions: "s3:DeleteBucket, ec2:Terminate*"}, func(t *testing.T, c Config) {
			if !reflect.DeepEqual(c.LockdownExtraActions, []string{"s3:DeleteBucket", "ec2:Terminate*"}) {
				t.Errorf("LockdownExtraActions = %q", c.LockdownExtraActions)
			}
		}},
		{"consistency window", map[string]string{EnvConsistencyWindow: "90s"}, func(t *testing.T, c Config) {
			if c.ConsistencyWindow != 90*time.Second {
				t.Errorf("ConsistencyWindow = %s", c.ConsistencyWindow)
			}
		}},
		{"recheck queue", map[string]string{EnvRecheckQueueURL: " https://sqs.us-east-1.amazonaws.com/111122223333/recheck "}, func(t *testing.T, c Config) {
			if c.RecheckQueueURL != "https://sqs.us-east-1.amazonaws.com/111122223333/recheck" {
				t.Errorf("RecheckQueueURL = %q", c.RecheckQueueURL)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(env(tt.env))
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestFromEnvInvalid(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
		wantMsg string // substring of the error text
	}{
		{"unknown global mode", map[string]string{EnvMode: "audit"}, EnvMode, `GUARDRAIL_MODE: "audit" is not a mode`},
		{"window not a duration", map[string]string{EnvConsistencyWindow: "2"}, EnvConsistencyWindow, `"2" is not a duration`},
		{"window too short", map[string]string{EnvConsistencyWindow: "1s"}, EnvConsistencyWindow, `outside 10s to 1h0m0s`},
		{"window too long", map[string]string{EnvConsistencyWindow: "6h"}, EnvConsistencyWindow, `outside`},
		{"recheck queue not a URL", map[string]string{EnvRecheckQueueURL: "recheck"}, EnvRecheckQueueURL, `not an SQS queue URL`},
		{"recheck queue without host", map[string]string{EnvRecheckQueueURL: "https:///q"}, EnvRecheckQueueURL, `not an SQS queue URL`},
		{"extra action without service", map[string]string{EnvLockdownExtraActions: "DeleteBucket"}, EnvLockdownExtraActions, `"DeleteBucket" is not an IAM action`},
		{"unknown trust mode", map[string]string{EnvTrustMode: "enforced"}, EnvTrustMode, `"enforced" is not a mode`},
		{"unknown lockdown mode", map[string]string{EnvLockdownMode: "off"}, EnvLockdownMode, `"off" is not a mode`},
		{"short account", map[string]string{EnvTrustedAccounts: "111122223333,12345"}, EnvTrustedAccounts, `GUARDRAIL_TRUSTED_ACCOUNTS: "12345" is not a 12-digit account ID`},
		{"account with letters", map[string]string{EnvTrustedAccounts: "11112222333a"}, EnvTrustedAccounts, `"11112222333a" is not a 12-digit account ID`},
		{"account as ARN", map[string]string{EnvTrustedAccounts: "arn:aws:iam::111122223333:root"}, EnvTrustedAccounts, `is not a 12-digit account ID`},
		{"org ID too short", map[string]string{EnvTrustedOrgIDs: "o-abc"}, EnvTrustedOrgIDs, `"o-abc" is not an organization ID`},
		{"audience with a wildcard", map[string]string{EnvTrustedAudiences: "us-east-1:*"}, EnvTrustedAudiences, `holds a wildcard`},
		{"OIDC tenant with a wildcard", map[string]string{EnvTrustedOIDCTenants: "github:acme*"}, EnvTrustedOIDCTenants, `holds a wildcard`},
		{"OIDC tenant of unknown kind", map[string]string{EnvTrustedOIDCTenants: "bitbucket:acme"}, EnvTrustedOIDCTenants, `unknown tenant kind`},
		{"OIDC tenant without kind", map[string]string{EnvTrustedOIDCTenants: "acme-corp"}, EnvTrustedOIDCTenants, `KIND:IDENTIFIER`},
		{"GitHub owner ID not a number", map[string]string{EnvTrustedOIDCTenants: "github-id:acme"}, EnvTrustedOIDCTenants, `is a number`},
		{"audience with white space", map[string]string{EnvTrustedAudiences: "my app"}, EnvTrustedAudiences, `white space`},
		{"org ID upper case", map[string]string{EnvTrustedOrgIDs: "o-A1B2C3D4E5"}, EnvTrustedOrgIDs, `is not an organization ID`},
		{"org root ID instead of org ID", map[string]string{EnvTrustedOrgIDs: "r-ab12"}, EnvTrustedOrgIDs, `is not an organization ID`},
		{"bad glob", map[string]string{EnvExemptRoles: "ci-[a-"}, EnvExemptRoles, `"ci-[a-" is not a valid glob`},
		{"glob exempting everything", map[string]string{EnvExemptRoles: "*"}, EnvExemptRoles, `would exempt every role`},
		{"glob with inner slash", map[string]string{EnvExemptRoles: "team/*"}, EnvExemptRoles, `does not start with it`},
		{"glob with space", map[string]string{EnvExemptRoles: "ci role"}, EnvExemptRoles, `cannot occur in a role name`},
		{"protected ARN not a role", map[string]string{EnvProtectedRoleARNs: "arn:aws:iam::111122223333:user/admin"}, EnvProtectedRoleARNs, `is not a role ARN`},
		{"protected ARN wildcard account", map[string]string{EnvProtectedRoleARNs: "arn:aws:iam::*:role/IamRoleGuardrail-*"}, EnvProtectedRoleARNs, `is not a role ARN`},
		{"protected ARN bare name", map[string]string{EnvProtectedRoleARNs: "IamRoleGuardrail-Enforcer"}, EnvProtectedRoleARNs, `is not a role ARN`},
		{"policy ARN missing", map[string]string{EnvLockdownPolicyARN: ""}, EnvLockdownPolicyARN, `GUARDRAIL_LOCKDOWN_POLICY_ARN: not set; it is required when the lockdown mode is enforce`},
		{"policy ARN missing in check mode", map[string]string{EnvLockdownPolicyARN: "", EnvMode: "check"}, EnvLockdownPolicyARN, `required when the lockdown mode is check`},
		{"policy ARN is AWS managed", map[string]string{EnvLockdownPolicyARN: "arn:aws:iam::aws:policy/AWSDenyAll"}, EnvLockdownPolicyARN, `is not a managed policy ARN`},
		{"policy ARN is a role", map[string]string{EnvLockdownPolicyARN: "arn:aws:iam::111122223333:role/GuardrailLockdown"}, EnvLockdownPolicyARN, `is not a managed policy ARN`},
		{"revoke sessions yes", map[string]string{EnvRevokeSessions: "yes"}, EnvRevokeSessions, `GUARDRAIL_REVOKE_SESSIONS: "yes" is not true or false`},
		{"revoke sessions 1", map[string]string{EnvRevokeSessions: "1"}, EnvRevokeSessions, `"1" is not true or false`},
		{"namespace reserved", map[string]string{EnvMetricsNamespace: "AWS/Lambda"}, EnvMetricsNamespace, `reserved for AWS services`},
		{"namespace bad character", map[string]string{EnvMetricsNamespace: "Guard$rail"}, EnvMetricsNamespace, `is not a CloudWatch namespace`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(env(tt.env))
			if err == nil {
				t.Fatalf("FromEnv succeeded with %+v, want an error", c)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Var != tt.wantVar {
				t.Errorf("errors.As(*Error) = %+v, want Var %s", ce, tt.wantVar)
			}
			if !reflect.DeepEqual(c, Config{}) {
				t.Errorf("FromEnv returned a partial config %+v with an error", c)
			}
		})
	}
}

// Every bad variable is reported at once, so an operator fixes them in one go.
func TestFromEnvReportsAllErrors(t *testing.T) {
	_, err := FromEnv(env(map[string]string{
		EnvMode:            "x",
		EnvTrustedAccounts: "1,2",
		EnvRevokeSessions:  "maybe",
	}))
	if err == nil {
		t.Fatal("want error")
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("error %v is not a joined error", err)
	}
	if n := len(joined.Unwrap()); n != 4 {
		t.Errorf("got %d errors, want 4: %v", n, err)
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"enforce": Enforce, "Check": Check, " skip\n": Skip} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "enforcing", "dry-run", "true"} {
		if got, err := ParseMode(in); err == nil {
			t.Errorf("ParseMode(%q) = %q, want error", in, got)
		}
	}
}

func TestValidators(t *testing.T) {
	tests := []struct {
		name string
		fn   func(string) error
		good []string
		bad  []string
	}{
		{"ValidateAccountID", ValidateAccountID,
			[]string{"000000000000", "123456789012"},
			[]string{"", "12345678901", "1234567890123", " 123456789012", "12345678901O"}},
		{"ValidateOrgID", ValidateOrgID,
			[]string{"o-a1b2c3d4e5", "o-0123456789abcdefghij0123456789ab"},
			[]string{"", "o-a1b2c3d4e", "o-0123456789abcdefghij0123456789abc", "O-a1b2c3d4e5", "ou-ab12-cdef3456"}},
		{"ValidateGlob", ValidateGlob,
			[]string{"ci-*", "Role", "/breakglass/*", "svc-?", "[a-c]*-deploy", "name.with+chars=@,", `\*x`},
			[]string{"", "*", "**", "a/b", "ci-[", "bad name", strings.Repeat("a", 513),
				// Globs that exempt (almost) every role: no literal
				// character in a name glob, or matching the root path
				// where most roles live.
				"?*", "[a-z]*", "?", "/", "/*", "/*/", "/**"}},
		{"ValidateRoleARNPattern", ValidateRoleARNPattern,
			[]string{"arn:aws:iam::111122223333:role/X", "arn:aws:iam::111122223333:role/path/to/X", "arn:aws-iso-b:iam::111122223333:role/IamRoleGuardrail-*"},
			[]string{"", "arn:aws:iam::111122223333:role/", "arn:aws:sts::111122223333:assumed-role/X/s", "arn:aws:iam::11112222333:role/X", "arn::iam::111122223333:role/X", "arn:aws:iam::111122223333:role/bad name",
				// Wildcards that would protect (never touch) most or all roles.
				"arn:aws:iam::111122223333:role/*", "arn:aws:iam::111122223333:role/?*", "arn:aws:iam::111122223333:role/ab*",
				"arn:aws:iam::111122223333:role/*Guardrail", "arn:aws:iam::111122223333:role/a/*"}},
		{"ValidatePolicyARN", ValidatePolicyARN,
			[]string{testPolicyARN, "arn:aws:iam::111122223333:policy/a/b/P_1"},
			[]string{"", "arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::111122223333:policy/", "arn:aws:iam::111122223333:policy/a b"}},
		{"ValidateMetricsNamespace", ValidateMetricsNamespace,
			[]string{"IamRoleGuardrail", "Sec/Guardrail#1: x"},
			[]string{"", "AWS/IAM", strings.Repeat("n", 256), "ümlaut"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range tt.good {
				if err := tt.fn(s); err != nil {
					t.Errorf("%s(%q) = %v, want nil", tt.name, s, err)
				}
			}
			for _, s := range tt.bad {
				if err := tt.fn(s); err == nil {
					t.Errorf("%s(%q) = nil, want error", tt.name, s)
				}
			}
		})
	}
}

func TestLogValue(t *testing.T) {
	c, err := FromEnv(env(map[string]string{EnvTrustedAccounts: "111122223333", EnvLockdownMode: "check"}))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	var rec struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	want := map[string]any{
		"trust_mode":                 "enforce",
		"lockdown_mode":              "check",
		"trusted_accounts":           []any{"111122223333"},
		"trusted_org_ids":            []any{},
		"trusted_audiences":          []any{},
		"trusted_oidc_tenants":       []any{},
		"exempt_roles":               []any{},
		"protected_role_arns":        []any{},
		"lockdown_policy_arn":        testPolicyARN,
		"revoke_sessions":            true,
		"metrics_namespace":          DefaultMetricsNamespace,
		"lockdown_extra_actions":     []any{},
		"lockdown_alarm_key_arn":     "",
		"lockdown_protected_buckets": []any{},
		"allowed_token_audiences":    []any{},
		"consistency_window":         "2m0s",
		"recheck_queue_url":          "",
	}
	if !reflect.DeepEqual(rec.Config, want) {
		t.Errorf("logged config = %v\nwant %v", rec.Config, want)
	}
	if s := c.String(); !strings.Contains(s, "lockdown_mode=check") || !strings.Contains(s, "trusted_accounts=[111122223333]") {
		t.Errorf("String() = %q", s)
	}
}

// Hub mode (DESIGN.md §11): on when the member role name is set; the
// hub-only settings are refused outside it; each member gets its own
// lockdown policy ARN, its member role protected and the organization
// trusted by default.
func TestFromEnvHub(t *testing.T) {
	const lockdownARN = "arn:aws:iam::111122223333:policy/GuardrailLockdown"
	tests := []struct {
		name    string
		vars    map[string]string
		wantErr []string // variables named in the error
		check   func(t *testing.T, c Config)
	}{
		{"single-account by default", map[string]string{EnvLockdownPolicyARN: lockdownARN}, nil, func(t *testing.T, c Config) {
			if c.Hub() || c.SweepConcurrency != 0 || c.LockdownPolicyARNIn("999988887777") != lockdownARN {
				t.Errorf("single-account config %+v", c)
			}
			if strings.Contains(c.String(), "member_") {
				t.Errorf("String() of a single-account config names hub settings: %s", c)
			}
		}},
		{"hub with defaults", map[string]string{EnvLockdownPolicyARN: lockdownARN, EnvMemberRoleName: DefaultMemberRoleName}, nil, func(t *testing.T, c Config) {
			if !c.Hub() || c.SweepConcurrency != DefaultSweepConcurrency || len(c.MemberAccounts) != 0 {
				t.Errorf("hub config %+v", c)
			}
			m := c.Member("999988887777", "o-abcdefghij")
			if m.LockdownPolicyARN != "arn:aws:iam::999988887777:policy/GuardrailLockdown" {
				t.Errorf("member lockdown ARN %s", m.LockdownPolicyARN)
			}
			if want := "arn:aws:iam::999988887777:role/IamRoleGuardrail-Member"; !slices.Contains(m.ProtectedRoleARNs, want) {
				t.Errorf("member protected roles %v, want %s among them", m.ProtectedRoleARNs, want)
			}
			if !slices.Equal(m.TrustedOrgIDs, []string{"o-abcdefghij"}) {
				t.Errorf("member trusted orgs %v, want the organization", m.TrustedOrgIDs)
			}
			if len(c.ProtectedRoleARNs) != 0 {
				t.Errorf("Member changed the hub's own protected roles: %v", c.ProtectedRoleARNs)
			}
		}},
		{"hub with an explicit trusted org and accounts", map[string]string{EnvLockdownPolicyARN: "arn:aws-us-gov:iam::111122223333:policy/sec/GuardrailLockdown",
			EnvMemberRoleName: "Hub-Member", EnvTrustedOrgIDs: "o-zzzzzzzzzz", EnvMemberAccounts: "222233334444, 555566667777", EnvSweepConcurrency: "3"}, nil, func(t *testing.T, c Config) {
			m := c.Member("222233334444", "o-abcdefghij")
			if !slices.Equal(m.TrustedOrgIDs, []string{"o-zzzzzzzzzz"}) || c.SweepConcurrency != 3 || len(c.MemberAccounts) != 2 {
				t.Errorf("config %+v, member %+v", c, m)
			}
			if m.LockdownPolicyARN != "arn:aws-us-gov:iam::222233334444:policy/sec/GuardrailLockdown" || c.MemberRoleARN("222233334444") != "arn:aws-us-gov:iam::222233334444:role/Hub-Member" {
				t.Errorf("member ARNs %s, %s", m.LockdownPolicyARN, c.MemberRoleARN("222233334444"))
			}
		}},
		{"member accounts without hub mode", map[string]string{EnvLockdownPolicyARN: lockdownARN, EnvMemberAccounts: "222233334444"}, []string{EnvMemberAccounts}, nil},
		{"sweep concurrency without hub mode", map[string]string{EnvLockdownPolicyARN: lockdownARN, EnvSweepConcurrency: "4"}, []string{EnvSweepConcurrency}, nil},
		{"bad member role name", map[string]string{EnvLockdownPolicyARN: lockdownARN, EnvMemberRoleName: "role/with/path"}, []string{EnvMemberRoleName}, nil},
		{"hub without lockdown ARN", map[string]string{EnvLockdownMode: "skip", EnvLockdownPolicyARN: "", EnvMemberRoleName: DefaultMemberRoleName}, []string{EnvLockdownPolicyARN}, nil},
		{"bad member account and concurrency", map[string]string{EnvLockdownPolicyARN: lockdownARN, EnvMemberRoleName: DefaultMemberRoleName,
			EnvMemberAccounts: "12345", EnvSweepConcurrency: "65"}, []string{EnvMemberAccounts, EnvSweepConcurrency}, nil},
		{"hub prevention off by default", map[string]string{EnvLockdownPolicyARN: lockdownARN, EnvMemberRoleName: DefaultMemberRoleName}, nil, func(t *testing.T, c Config) {
			if c.Prevention != PreventionOff || c.PreventionTargets != nil {
				t.Errorf("prevention %q, targets %v", c.Prevention, c.PreventionTargets)
			}
		}},
		{"hub prevention enforce on two targets", map[string]string{EnvLockdownPolicyARN: lockdownARN, EnvMemberRoleName: DefaultMemberRoleName,
			EnvPrevention: "enforce", EnvPreventionTargets: "ou-ab12-cd34ef56, r-ab12"}, nil, func(t *testing.T, c Config) {
			if c.Prevention != PreventionEnforce || !slices.Equal(c.PreventionTargets, []string{"ou-ab12-cd34ef56", "r-ab12"}) {
				t.Errorf("prevention %q, targets %v", c.Prevention, c.PreventionTargets)
			}
			if !strings.Contains(c.String(), "prevention=enforce prevention_targets=[ou-ab12-cd34ef56,r-ab12]") {
				t.Errorf("String() = %s", c)
			}
		}},
		{"hub prevention check needs no targets", map[string]string{EnvLockdownPolicyARN: lockdownARN, EnvMemberRoleName: DefaultMemberRoleName,
			EnvPrevention: "check"}, nil, func(t *testing.T, c Config) {
			if c.Prevention != PreventionCheck {
				t.Errorf("prevention %q", c.Prevention)
			}
		}},
		{"hub prevention enforce without targets", map[string]string{EnvLockdownPolicyARN: lockdownARN, EnvMemberRoleName: DefaultMemberRoleName,
			EnvPrevention: "enforce"}, []string{EnvPreventionTargets}, nil},
		{"hub prevention unknown, target an account", map[string]string{EnvLockdownPolicyARN: lockdownARN, EnvMemberRoleName: DefaultMemberRoleName,
			EnvPrevention: "on", EnvPreventionTargets: "111122223333"}, []string{EnvPrevention, EnvPreventionTargets}, nil},
		{"prevention without hub mode", map[string]string{EnvLockdownPolicyARN: lockdownARN, EnvPrevention: "enforce", EnvPreventionTargets: "r-ab12"},
			[]string{EnvPrevention, EnvPreventionTargets}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromEnv(env(tc.vars))
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c)
				return
			}
			if err == nil {
				t.Fatalf("FromEnv accepted %v", tc.vars)
			}
			for _, v := range tc.wantErr {
				if !strings.Contains(err.Error(), v+": ") {
					t.Errorf("error %q does not name %s", err, v)
				}
			}
		})
	}
}
