package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
)

func getter(m map[string]any) func(string) any {
	return func(k string) any { return m[k] }
}

func TestParseDefaults(t *testing.T) {
	got, err := Parse(getter(nil))
	if err != nil {
		t.Fatalf("Parse(no context) = %v", err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Errorf("Parse(no context) = %+v, want %+v", got, Default())
	}
}

// TestCDKJSONMatchesDefaults keeps the documented defaults in cdk.json and the
// code's defaults from drifting apart: every key is listed there, with the
// value the stack would use without it.
func TestCDKJSONMatchesDefaults(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		t.Fatalf("read cdk.json: %v", err)
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse cdk.json: %v", err)
	}
	for _, k := range Keys {
		if _, ok := doc.Context[k]; !ok {
			t.Errorf("cdk.json context lacks %q", k)
		}
	}
	got, err := Parse(getter(doc.Context))
	if err != nil {
		t.Fatalf("Parse(cdk.json) = %v", err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Errorf("cdk.json settings = %+v, want the defaults %+v", got, Default())
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name  string
		ctx   map[string]any
		check func(t *testing.T, s Settings)
	}{
		{"global mode sets both controls", map[string]any{"mode": "check"}, func(t *testing.T, s Settings) {
			if s.TrustMode != config.Check || s.LockdownMode != config.Check {
				t.Errorf("modes = %s/%s, want check/check", s.TrustMode, s.LockdownMode)
			}
		}},
		{"per-control mode overrides", map[string]any{"mode": "check", "lockdownMode": "enforce", "trustMode": "SKIP"}, func(t *testing.T, s Settings) {
			if s.Mode != config.Check || s.TrustMode != config.Skip || s.LockdownMode != config.Enforce {
				t.Errorf("modes = %s %s %s", s.Mode, s.TrustMode, s.LockdownMode)
			}
		}},
		{"empty per-control mode follows the global mode", map[string]any{"mode": "check", "trustMode": "", "lockdownMode": ""}, func(t *testing.T, s Settings) {
			if s.TrustMode != config.Check || s.LockdownMode != config.Check {
				t.Errorf("modes = %s/%s, want check/check", s.TrustMode, s.LockdownMode)
			}
		}},
		{"JSON lists", map[string]any{"trustedAccounts": []any{"111122223333", "444455556666", "111122223333"}, "trustedOrgIds": []any{"o-a1b2c3d4e5"}}, func(t *testing.T, s Settings) {
			if want := []string{"111122223333", "444455556666"}; !reflect.DeepEqual(s.TrustedAccounts, want) {
				t.Errorf("TrustedAccounts = %v, want %v", s.TrustedAccounts, want)
			}
			if want := []string{"o-a1b2c3d4e5"}; !reflect.DeepEqual(s.TrustedOrgIDs, want) {
				t.Errorf("TrustedOrgIDs = %v", s.TrustedOrgIDs)
			}
		}},
		{"-c comma-separated list", map[string]any{"exemptRoles": " BreakGlass , /admin/*,"}, func(t *testing.T, s Settings) {
			if want := []string{"BreakGlass", "/admin/*"}; !reflect.DeepEqual(s.ExemptRoles, want) {
				t.Errorf("ExemptRoles = %v, want %v", s.ExemptRoles, want)
			}
		}},
		{"protected buckets with the trail", map[string]any{"protectedBuckets": "org-trail-logs,org-trail-logs-replica", "createTrail": true}, func(t *testing.T, s Settings) {
			if want := []string{"org-trail-logs", "org-trail-logs-replica"}; !reflect.DeepEqual(s.ProtectedBuckets, want) || !s.CreateTrail {
				t.Errorf("ProtectedBuckets = %v, CreateTrail = %v", s.ProtectedBuckets, s.CreateTrail)
			}
		}},
		{"empty list replaces the default", map[string]any{"exemptRoles": []any{}}, func(t *testing.T, s Settings) {
			if len(s.ExemptRoles) != 0 {
				t.Errorf("ExemptRoles = %v, want none", s.ExemptRoles)
			}
		}},
		{"-c strings for bools and numbers", map[string]any{"revokeSessions": "false", "createTrail": "true", "logRetentionDays": "90", "enforcerConcurrency": "2"}, func(t *testing.T, s Settings) {
			if s.RevokeSessions || !s.CreateTrail || s.LogRetentionDays != 90 || s.EnforcerConcurrency != 2 {
				t.Errorf("got %+v", s)
			}
		}},
		{"JSON bools and numbers", map[string]any{"revokeSessions": false, "createTrail": true, "logRetentionDays": float64(731)}, func(t *testing.T, s Settings) {
			if s.RevokeSessions || !s.CreateTrail || s.LogRetentionDays != 731 {
				t.Errorf("got %+v", s)
			}
		}},
		{"schedules", map[string]any{"sweepSchedule": "cron(0 3 * * ? *)", "alarmEmail": "sec@example.com"}, func(t *testing.T, s Settings) {
			if s.SweepSchedule != "cron(0 3 * * ? *)" || s.AlarmEmail != "sec@example.com" {
				t.Errorf("got %+v", s)
			}
		}},
		{"token audiences", map[string]any{"allowedTokenAudiences": []any{"https://api.partner.example", "api://AzureADTokenExchange", "https://api.partner.example"}}, func(t *testing.T, s Settings) {
			if want := []string{"https://api.partner.example", "api://AzureADTokenExchange"}; !reflect.DeepEqual(s.AllowedTokenAudiences, want) {
				t.Errorf("AllowedTokenAudiences = %v, want %v", s.AllowedTokenAudiences, want)
			}
		}},
		{"-c token audiences", map[string]any{"allowedTokenAudiences": "https://a.example, https://b.example"}, func(t *testing.T, s Settings) {
			if want := []string{"https://a.example", "https://b.example"}; !reflect.DeepEqual(s.AllowedTokenAudiences, want) {
				t.Errorf("AllowedTokenAudiences = %v, want %v", s.AllowedTokenAudiences, want)
			}
		}},
		{"extra denied actions", map[string]any{"extraDeniedActions": []any{"ram:CreateResourceShare", "ec2:CreateVpcPeeringConnection"}}, func(t *testing.T, s Settings) {
			if len(s.ExtraDeniedActions) != 2 {
				t.Errorf("ExtraDeniedActions = %v", s.ExtraDeniedActions)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(getter(tt.ctx))
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			tt.check(t, s)
		})
	}
}

func TestParseErrors(t *testing.T) {
	long := make([]any, 0, 200)
	for i := 0; i < 200; i++ {
		long = append(long, "service:Action"+strings.Repeat("X", 10)+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	tests := []struct {
		name, key, want string
		ctx             map[string]any
	}{
		{"unknown mode", KeyMode, `"audit" is not a mode`, map[string]any{"mode": "audit"}},
		{"unknown trust mode", KeyTrustMode, `"off" is not a mode`, map[string]any{"trustMode": "off"}},
		{"mode of wrong type", KeyLockdownMode, "want a string", map[string]any{"lockdownMode": true}},
		{"short account", KeyTrustedAccounts, `"12345" is not a 12-digit account ID`, map[string]any{"trustedAccounts": []any{"12345"}}},
		{"account as number", KeyTrustedAccounts, "want a string", map[string]any{"trustedAccounts": []any{float64(111122223333)}}},
		{"bad org", KeyTrustedOrgIDs, `"o-ABC" is not an organization ID`, map[string]any{"trustedOrgIds": "o-ABC"}},
		{"wildcard audience", KeyTrustedAudiences, `holds a wildcard`, map[string]any{"trustedAudiences": []any{"us-east-1:*"}}},
		{"wildcard OIDC tenant", KeyTrustedOIDCTenants, `holds a wildcard`, map[string]any{"trustedOidcTenants": []any{"github:*"}}},
		{"glob exempting all", KeyExemptRoles, "would exempt every role", map[string]any{"exemptRoles": []any{"*"}}},
		{"bad glob", KeyExemptRoles, "not a valid glob", map[string]any{"exemptRoles": []any{"Team[a-"}}},
		{"relative path glob", KeyExemptRoles, "does not start with it", map[string]any{"exemptRoles": []any{"admin/*"}}},
		{"bad schedule", KeySweepSchedule, "not a schedule expression", map[string]any{"sweepSchedule": "daily"}},
		{"too frequent", KeySweepSchedule, "more often than every 60 minutes", map[string]any{"sweepSchedule": "rate(5 minutes)"}},
		{"wrong unit number", KeySweepSchedule, "singular unit", map[string]any{"sweepSchedule": "rate(2 day)"}},
		{"bad email", KeyAlarmEmail, "not a plain e-mail address", map[string]any{"alarmEmail": "Security <sec@example.com>"}},
		{"bad retention", KeyLogRetentionDays, "not a CloudWatch Logs retention", map[string]any{"logRetentionDays": float64(10)}},
		{"fractional retention", KeyLogRetentionDays, "whole number", map[string]any{"logRetentionDays": 7.5}},
		{"bad bool", KeyRevokeSessions, "want true or false", map[string]any{"revokeSessions": "yes"}},
		{"bad trail bool", KeyCreateTrail, "want true or false", map[string]any{"createTrail": float64(1)}},
		{"concurrency zero", KeyEnforcerConcurrency, "outside 1-50", map[string]any{"enforcerConcurrency": float64(0)}},
		{"deny everything", KeyExtraDeniedActions, "would deny every action", map[string]any{"extraDeniedActions": []any{"*:*"}}},
		{"malformed action", KeyExtraDeniedActions, "is not an IAM action", map[string]any{"extraDeniedActions": []any{"s3 GetObject"}}},
		{"too many actions", KeyExtraDeniedActions, "more than the", map[string]any{"extraDeniedActions": long}},
		{"bucket ARN", KeyProtectedBuckets, "not an S3 bucket name", map[string]any{"protectedBuckets": []any{"arn:aws:s3:::trail"}}},
		{"too many buckets", KeyProtectedBuckets, "more than the", map[string]any{"createTrail": true,
			"protectedBuckets": []any{strings.Repeat("a", 63), strings.Repeat("b", 63)}}},
		{"too many exemptions", KeyExemptRoles, "more than the", map[string]any{"exemptRoles": []any{
			strings.Repeat("a", 60), strings.Repeat("b", 60), strings.Repeat("c", 60)}}},
		{"audience wildcard", KeyAllowedTokenAudiences, "matched exactly", map[string]any{"allowedTokenAudiences": []any{"https://*.example.com"}}},
		{"audience with space", KeyAllowedTokenAudiences, "white space", map[string]any{"allowedTokenAudiences": []any{"my audience"}}},
		{"audience of wrong type", KeyAllowedTokenAudiences, "want a string", map[string]any{"allowedTokenAudiences": []any{true}}},
		{"too many audiences", KeyAllowedTokenAudiences, "more than the", map[string]any{"allowedTokenAudiences": []any{
			"https://" + strings.Repeat("a", 70), "https://" + strings.Repeat("b", 70)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(getter(tt.ctx))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v has no *Error", err)
			}
			if se.Key != tt.key {
				t.Errorf("error key = %q, want %q (%v)", se.Key, tt.key, err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"`+tt.key+`"`) {
				t.Errorf("error = %q, want it to name %q and say %q", err, tt.key, tt.want)
			}
		})
	}
}

func TestParseReportsEveryError(t *testing.T) {
	_, err := Parse(getter(map[string]any{"mode": "x", "trustedAccounts": "1", "alarmEmail": "nope"}))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, k := range []string{KeyMode, KeyTrustedAccounts, KeyAlarmEmail} {
		if !strings.Contains(err.Error(), `"`+k+`"`) {
			t.Errorf("error %q does not mention %q", err, k)
		}
	}
}

func TestValidateSchedule(t *testing.T) {
	tests := []struct {
		expr string
		ok   bool
	}{
		{"rate(1 day)", true},
		{"rate(7 days)", true},
		{"rate(1 hour)", true},
		{"rate(90 minutes)", true},
		{"rate(59 minutes)", false},
		{"rate(1 days)", false},
		{"rate(0 days)", false},
		{"rate(1 week)", false},
		{"cron(0 3 * * ? *)", true},
		{"cron(0 3 * * ?)", false},
		{"cron(0 3 * * ? *); rm", false},
		{"", false},
	}
	for _, tt := range tests {
		if err := ValidateSchedule(tt.expr); (err == nil) != tt.ok {
			t.Errorf("ValidateSchedule(%q) = %v, want ok=%v", tt.expr, err, tt.ok)
		}
	}
}

func TestEnv(t *testing.T) {
	s, err := Parse(getter(map[string]any{
		"mode": "check", "lockdownMode": "skip",
		"trustedAccounts": []any{"111122223333", "444455556666"}, "trustedOrgIds": "o-a1b2c3d4e5",
		"trustedAudiences":   []any{"us-east-1:12345678-abcd-abcd-abcd-123456789012", "1234567890"},
		"trustedOidcTenants": []any{"github:acme-corp", "github-id:123456"},
		"exemptRoles":        []any{"BreakGlass", "/admin/*"}, "revokeSessions": false,
		"extraDeniedActions": []any{"ram:CreateResourceShare"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		config.EnvLockdownExtraActions: "ram:CreateResourceShare", config.EnvAllowedTokenAudiences: "",
		config.EnvMode: "check", config.EnvTrustMode: "check", config.EnvLockdownMode: "skip",
		config.EnvTrustedAccounts: "111122223333,444455556666", config.EnvTrustedOrgIDs: "o-a1b2c3d4e5",
		config.EnvTrustedAudiences:   "us-east-1:12345678-abcd-abcd-abcd-123456789012,1234567890",
		config.EnvTrustedOIDCTenants: "github:acme-corp,github-id:123456",
		config.EnvExemptRoles:        "BreakGlass,/admin/*", config.EnvRevokeSessions: "false",
		config.EnvMetricsNamespace: config.DefaultMetricsNamespace,
	}
	if got := s.Env(); !reflect.DeepEqual(got, want) {
		t.Errorf("Env() = %v, want %v", got, want)
	}
	// What the stack sets must be what the Lambdas accept (lockdown in skip
	// mode needs no policy ARN).
	env := s.Env()
	if _, err := config.FromEnv(func(k string) string { return env[k] }); err != nil {
		t.Errorf("config.FromEnv rejects the stack's environment: %v", err)
	}
}

func TestBootstrapNames(t *testing.T) {
	got := BootstrapRoleNames("hnb659fds", "111122223333", "us-east-1")
	want := []string{"cdk-hnb659fds-deploy-role-111122223333-us-east-1", "cdk-hnb659fds-cfn-exec-role-111122223333-us-east-1",
		"cdk-hnb659fds-file-publishing-role-111122223333-us-east-1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BootstrapRoleNames = %v, want %v", got, want)
	}
	for _, n := range got {
		// The functions read them as exemption globs: each must be one,
		// and an exact name (no wildcard).
		if err := config.ValidateGlob(n); err != nil || strings.ContainsAny(n, "*?[") {
			t.Errorf("%s: %v", n, err)
		}
	}
	if got := AssetsBucketName("hnb659fds", "111122223333", "us-east-1"); got != "cdk-hnb659fds-assets-111122223333-us-east-1" {
		t.Errorf("AssetsBucketName = %s", got)
	}
}

// TestParseLargest fills every budget the settings expose at once (extra
// actions, exemptions besides the bootstrap roles, protected buckets besides
// the assets and trail buckets, token audiences), each until one more item
// would exceed it, and checks that the settings accept the whole: the budgets of
// pkg/lockdown leave room for all of them together in the stack's lockdown.
func TestParseLargest(t *testing.T) {
	sized := func(ctx map[string]any) lockdown.Config {
		s, err := Parse(getter(ctx))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		return s.sizingLockdown()
	}
	ctx := map[string]any{"createTrail": true}
	// Each list grows, one item at a time, until the next item would
	// exceed its budget (Parse reports it by the list's key).
	grow := func(key string, item func(i int) string) {
		var items []any
		for i := 0; i < 100; i++ {
			ctx[key] = append(items, item(i))
			if _, err := Parse(getter(ctx)); err != nil {
				var se *Error
				if !errors.As(err, &se) || se.Key != key {
					t.Fatalf("%s item %d: %v", key, i, err)
				}
				break
			}
			items = append(items, item(i))
		}
		ctx[key] = items
	}
	grow(KeyExtraDeniedActions, func(i int) string { return fmt.Sprintf("s%02d:%s", i, strings.Repeat("A", 60)) })
	grow(KeyExemptRoles, func(i int) string { return fmt.Sprintf("exempt-%02d-%s", i, strings.Repeat("x", 20)) })
	grow(KeyProtectedBuckets, func(i int) string { return fmt.Sprintf("%02d%s", i, strings.Repeat("b", 40)) })
	grow(KeyAllowedTokenAudiences, func(i int) string { return fmt.Sprintf("https://%02d.example/%s", i, strings.Repeat("a", 20)) })
	for _, key := range []string{KeyExtraDeniedActions, KeyExemptRoles, KeyProtectedBuckets, KeyAllowedTokenAudiences} {
		if len(ctx[key].([]any)) == 0 {
			t.Errorf("%s: not even one item fits", key)
		}
	}
	doc, err := lockdown.Document(sized(ctx))
	if err != nil {
		t.Fatalf("lockdown.Document: %v", err)
	}
	n := lockdown.Size(doc)
	t.Logf("largest lockdown the settings accept: %d of %d characters (%d extra actions, %d exemptions, %d buckets, %d audiences)", n, lockdown.MaxSize,
		len(ctx[KeyExtraDeniedActions].([]any)), len(ctx[KeyExemptRoles].([]any)), len(ctx[KeyProtectedBuckets].([]any)), len(ctx[KeyAllowedTokenAudiences].([]any)))
	if n > lockdown.MaxSize {
		t.Errorf("size %d exceeds %d", n, lockdown.MaxSize)
	}
}

func TestSweepInterval(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want time.Duration
		ok   bool
	}{
		{"rate(1 day)", 24 * time.Hour, true},
		{"rate(12 hours)", 12 * time.Hour, true},
		{"rate(90 minutes)", 90 * time.Minute, true},
		{"rate(3 days)", 72 * time.Hour, true},
		{"rate(4 days)", 0, false}, // two intervals exceed CloudWatch's 7-day alarm range
		{"cron(0 3 * * ? *)", 24 * time.Hour, true},
		{"cron(0 3 ? * MON *)", 0, false}, // weekly: no heartbeat possible
		{"cron(0 3 1 * ? *)", 0, false},
	} {
		got, err := SweepInterval(tc.expr)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("SweepInterval(%q) = %v, %v; want %v, ok %v", tc.expr, got, err, tc.want, tc.ok)
		}
	}
	// Parse refuses a schedule the heartbeat cannot watch, naming the key.
	if _, err := Parse(func(k string) any {
		if k == KeySweepSchedule {
			return "rate(7 days)"
		}
		return nil
	}); err == nil || !strings.Contains(err.Error(), KeySweepSchedule) {
		t.Errorf("weekly rate accepted: %v", err)
	}
}

func TestOperationsSettings(t *testing.T) {
	get := func(m map[string]any) func(string) any { return func(k string) any { return m[k] } }
	s, err := Parse(get(map[string]any{KeyNotifyEmail: "ops@example.com", KeyLagAlarmSeconds: "300", KeySecurityHub: true}))
	if err != nil || s.NotifyEmail != "ops@example.com" || s.LagAlarmSeconds != 300 || !s.SecurityHub {
		t.Errorf("settings %+v, %v", s, err)
	}
	if d := Default(); d.NotifyEmail != "" || d.LagAlarmSeconds != DefaultLagAlarmSeconds || d.SecurityHub {
		t.Errorf("defaults %+v", d)
	}
	for _, bad := range []map[string]any{{KeyNotifyEmail: "Ops <ops@example.com>"}, {KeyLagAlarmSeconds: float64(10)}, {KeySecurityHub: "yes"}} {
		if _, err := Parse(get(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
