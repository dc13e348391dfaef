//lint:file-ignore SA1019 assertions.Annotations returns cxapi.SynthesisMessage; there is no other type to use.

package stack

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/iamguardrail/guardrail/infra/settings"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/policy"
	"github.com/iamguardrail/guardrail/pkg/publish"
)

// sharedDir holds what the shared synthesized stacks keep using after the
// test that first built them has ended (their assets and output directory,
// which later synthesis steps such as cdk-nag's report write to), so it
// lives as long as the test binary rather than one test's TempDir.
var sharedDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stack-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedDir = dir
	code := m.Run()
	jsii.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sharedTempDir returns a new directory under sharedDir.
func sharedTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(sharedDir, "")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// distDir returns a directory holding enforcer.zip and sweeper.zip, each
// with a dummy bootstrap, standing in for `make build`.
func distDir(t *testing.T) string {
	t.Helper()
	dir := sharedTempDir(t)
	for _, name := range []string{EnforcerZip, SweeperZip} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		zw := zip.NewWriter(f)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, ExternalAttrs: 0o755 << 16})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "#!/bin/sh\necho %s\n", name)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// synthesized is one synthesized stack with cdk-nag applied.
type synthesized struct {
	stack    awscdk.Stack
	template assertions.Template
	json     map[string]any
}

// synth builds the stack from context (as cdk.json would give it).
func synth(t *testing.T, ctx map[string]any) synthesized {
	t.Helper()
	ctx = maps(ctx, map[string]any{settings.KeyDistDir: distDir(t)})
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(sharedTempDir(t))})
	s, err := ContextSettings(app)
	if err != nil {
		t.Fatalf("ContextSettings: %v", err)
	}
	st, err := New(app, Props{Settings: s, Region: RequiredRegion})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	AddChecks(app)
	tpl := assertions.Template_FromStack(st, nil)
	return synthesized{stack: st, template: tpl, json: *tpl.ToJSON()}
}

func maps(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// The default and the fully configured stack are synthesized once each
// (a synthesis costs seconds) and shared by the tests.
var (
	defaultOnce, fullOnce sync.Once
	defaultStack          synthesized
	fullStack             synthesized
)

var fullContext = map[string]any{
	"mode": "check", "lockdownMode": "enforce",
	"trustedAccounts": []any{"444455556666"}, "trustedOrgIds": []any{"o-a1b2c3d4e5"},
	"exemptRoles": []any{"BreakGlass", "/admin/*"}, "sweepSchedule": "cron(0 3 * * ? *)",
	"protectedBuckets": []any{"org-trail-logs-111122223333"},
	"alarmEmail":       "security@example.com", "logRetentionDays": float64(731),
	"extraDeniedActions": []any{"ram:CreateResourceShare"}, "revokeSessions": false,
	"createTrail": true, "enforcerConcurrency": float64(3),
	"allowedTokenAudiences": []any{tokenAudience, tokenAudience2},
	"notifyEmail":           "platform@example.com", "lagAlarmSeconds": float64(600), "securityHub": true,
}

// The audiences the configured stack lets service roles mint identity
// tokens for (a partner API and Azure's workload identity exchange).
const (
	tokenAudience  = "https://api.partner.example"
	tokenAudience2 = "api://AzureADTokenExchange"
)

func defaults(t *testing.T) synthesized {
	defaultOnce.Do(func() { defaultStack = synth(t, nil) })
	if defaultStack.stack == nil {
		t.Fatal("default stack failed to synthesize")
	}
	return defaultStack
}

func full(t *testing.T) synthesized {
	fullOnce.Do(func() { fullStack = synth(t, fullContext) })
	if fullStack.stack == nil {
		t.Fatal("configured stack failed to synthesize")
	}
	return fullStack
}

// resources returns the template's resources of one type by logical ID.
func (s synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

// byName returns the one resource of typ whose nameProp is name.
func (s synthesized) byName(t *testing.T, typ, nameProp, name string) (string, map[string]any) {
	t.Helper()
	for id, r := range s.resources(typ) {
		if props, _ := r["Properties"].(map[string]any); props[nameProp] == name {
			return id, props
		}
	}
	t.Fatalf("no %s with %s %q", typ, nameProp, name)
	return "", nil
}

func getAtt(id, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{id, attr}}
}

func ref(id string) map[string]any { return map[string]any{"Ref": id} }

func jsonEqual(t *testing.T, got, want any) bool {
	t.Helper()
	g, err1 := json.Marshal(got)
	w, err2 := json.Marshal(want)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return string(g) == string(w)
}

func TestNoUnsuppressedNagFindings(t *testing.T) {
	for name, s := range map[string]synthesized{"default": defaults(t), "full": full(t)} {
		for _, level := range []string{"error", "warning"} {
			var msgs *[]*cxapi.SynthesisMessage
			if level == "error" {
				msgs = assertions.Annotations_FromStack(s.stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
			} else {
				msgs = assertions.Annotations_FromStack(s.stack).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
			}
			for _, m := range *msgs {
				t.Errorf("%s stack: unsuppressed cdk-nag %s at %s: %v", name, level, *m.Id, m.Entry.Data)
			}
		}
	}
}

func TestStackEnvironment(t *testing.T) {
	s := defaults(t)
	if got := *s.stack.Region(); got != RequiredRegion {
		t.Errorf("stack region = %q, want %q", got, RequiredRegion)
	}
	if got := *s.stack.StackName(); got != DefaultStackName || !strings.HasPrefix(got, NamePrefix) {
		t.Errorf("stack name = %q", got)
	}
}

func TestFunctions(t *testing.T) {
	for _, tc := range []struct {
		stack                 synthesized
		name                  string
		memory, timeout, conc float64
		mode                  [3]string
		accounts, exempt      string
		revoke                string
	}{
		{defaults(t), EnforcerName, 128, 180, 5, [3]string{"enforce", "enforce", "enforce"}, "", "", "true"},
		{defaults(t), SweeperName, 256, 900, 1, [3]string{"enforce", "enforce", "enforce"}, "", "", "true"},
		{full(t), EnforcerName, 128, 180, 3, [3]string{"check", "check", "enforce"}, "444455556666", ",BreakGlass,/admin/*", "false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, props := tc.stack.byName(t, "AWS::Lambda::Function", "FunctionName", tc.name)
			roleID, _ := tc.stack.byName(t, "AWS::IAM::Role", "RoleName", tc.name)
			logID, _ := tc.stack.byName(t, "AWS::Logs::LogGroup", "LogGroupName", "/aws/lambda/"+tc.name)
			want := map[string]any{
				"Runtime": "provided.al2023", "Architectures": []any{"arm64"}, "Handler": "bootstrap",
				"MemorySize": tc.memory, "Timeout": tc.timeout, "ReservedConcurrentExecutions": tc.conc,
				"RecursiveLoop": "Terminate",
				"Role":          getAtt(roleID, "Arn"),
				"LoggingConfig": map[string]any{"LogFormat": "JSON", "LogGroup": ref(logID), "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO"},
			}
			for k, v := range want {
				if !jsonEqual(t, props[k], v) {
					t.Errorf("%s = %v, want %v", k, props[k], v)
				}
			}
			env := props["Environment"].(map[string]any)["Variables"].(map[string]any)
			wantEnv := map[string]any{
				config.EnvMode: tc.mode[0], config.EnvTrustMode: tc.mode[1], config.EnvLockdownMode: tc.mode[2],
				config.EnvTrustedAccounts: tc.accounts,
				config.EnvRevokeSessions:  tc.revoke, config.EnvMetricsNamespace: "IamRoleGuardrail",
				config.EnvLockdownPolicyARN: getAtt("LockdownPolicy", "PolicyArn"),
			}
			for k, v := range wantEnv {
				if !jsonEqual(t, env[k], v) {
					t.Errorf("env %s = %v, want %v", k, env[k], v)
				}
			}
			// The CDK bootstrap roles by exact name, then the operator's.
			if got, want := newResolver(t, tc.stack).resolve(env[config.EnvExemptRoles]), bootstrapExemptions+tc.exempt; got != want {
				t.Errorf("env %s resolves to %v, want %q", config.EnvExemptRoles, got, want)
			}
			// Every variable pkg/config reads is set, and nothing else.
			for _, k := range []string{config.EnvMode, config.EnvTrustMode, config.EnvLockdownMode, config.EnvTrustedAccounts,
				config.EnvTrustedOrgIDs, config.EnvTrustedAudiences, config.EnvTrustedOIDCTenants, config.EnvExemptRoles, config.EnvProtectedRoleARNs, config.EnvLockdownPolicyARN,
				config.EnvRevokeSessions, config.EnvMetricsNamespace, config.EnvLockdownExtraActions,
				config.EnvLockdownAlarmKeyARN, config.EnvLockdownProtectedBuckets, config.EnvAllowedTokenAudiences, publish.EnvEventBus} {
				if _, ok := env[k]; !ok {
					t.Errorf("env lacks %s", k)
				}
			}
			// The enforcer also names its re-check queue (recheck_test.go);
			// pkg/publish's product ARN is there only with securityHub (the
			// full stack).
			wantVars := map[bool]int{true: 17, false: 16}[tc.name == EnforcerName] + 1 // + publish.EnvEventBus
			if _, ok := env[publish.EnvSecurityHubProductARN]; ok {
				wantVars++
			}
			if len(env) != wantVars {
				t.Errorf("env has %d variables, want %d: %v", len(env), wantVars, env)
			}
			protected, _ := json.Marshal(env[config.EnvProtectedRoleARNs])
			for _, want := range []string{":role/IamRoleGuardrail-*", `"EnforcerRole`, `"SweeperRole`} {
				if !strings.Contains(string(protected), want) {
					t.Errorf("GUARDRAIL_PROTECTED_ROLE_ARNS %s lacks %s", protected, want)
				}
			}
		})
	}
}

// bootstrapExemptions is GUARDRAIL_EXEMPT_ROLES for the CDK bootstrap
// roles in testAccount.
const bootstrapExemptions = "cdk-hnb659fds-deploy-role-" + testAccount + "-us-east-1,cdk-hnb659fds-cfn-exec-role-" + testAccount +
	"-us-east-1,cdk-hnb659fds-file-publishing-role-" + testAccount + "-us-east-1"

func TestResolvedEnvironmentPassesConfig(t *testing.T) {
	// The stack's environment, with CloudFormation's values filled in,
	// must be accepted by the Lambdas' own configuration parser.
	_, props := full(t).byName(t, "AWS::Lambda::Function", "FunctionName", EnforcerName)
	env := props["Environment"].(map[string]any)["Variables"].(map[string]any)
	resolved := map[string]string{}
	for k, v := range newResolver(t, full(t)).resolve(env).(map[string]any) {
		resolved[k] = v.(string)
	}
	c, err := config.FromEnv(func(k string) string { return resolved[k] })
	if err != nil {
		t.Fatalf("config.FromEnv: %v", err)
	}
	if c.TrustMode != config.Check || c.LockdownMode != config.Enforce || c.RevokeSessions || !slices.Equal(c.TrustedOrgIDs, []string{"o-a1b2c3d4e5"}) ||
		c.LockdownPolicyARN != "arn:aws:iam::123456789012:policy/"+lockdown.PolicyName {
		t.Errorf("config = %+v", c)
	}
}

func TestAsyncInvokeConfig(t *testing.T) {
	s := defaults(t)
	qID, _ := s.byName(t, "AWS::SQS::Queue", "QueueName", NamePrefix+"-FailedInvocations")
	want := map[string][2]float64{EnforcerName: {2, 6 * 3600}, SweeperName: {1, 3600}}
	found := 0
	for _, r := range s.resources("AWS::Lambda::EventInvokeConfig") {
		p := r["Properties"].(map[string]any)
		fnRef, _ := p["FunctionName"].(map[string]any)
		id, _ := fnRef["Ref"].(string)
		name := map[bool]string{true: EnforcerName, false: SweeperName}[strings.HasPrefix(id, "Enforcer")]
		w := want[name]
		if p["MaximumRetryAttempts"] != w[0] || p["MaximumEventAgeInSeconds"] != w[1] {
			t.Errorf("%s: retries %v age %v, want %v", name, p["MaximumRetryAttempts"], p["MaximumEventAgeInSeconds"], w)
		}
		dest := map[string]any{"OnFailure": map[string]any{"Destination": getAtt(qID, "Arn")}}
		if !jsonEqual(t, p["DestinationConfig"], dest) {
			t.Errorf("%s: DestinationConfig = %v, want %v", name, p["DestinationConfig"], dest)
		}
		found++
	}
	if found != 2 {
		t.Errorf("%d EventInvokeConfig, want 2", found)
	}
}

func TestLogGroups(t *testing.T) {
	for _, tc := range []struct {
		s    synthesized
		days float64
	}{{defaults(t), 365}, {full(t), 731}} {
		for _, fn := range []string{EnforcerName, SweeperName} {
			id, props := tc.s.byName(t, "AWS::Logs::LogGroup", "LogGroupName", "/aws/lambda/"+fn)
			if props["RetentionInDays"] != tc.days {
				t.Errorf("%s retention = %v, want %v", fn, props["RetentionInDays"], tc.days)
			}
			if r := tc.s.json["Resources"].(map[string]any)[id].(map[string]any); r["DeletionPolicy"] != "Retain" {
				t.Errorf("%s DeletionPolicy = %v, want Retain (decision records are the undo log)", fn, r["DeletionPolicy"])
			}
		}
	}
}

func TestEventRule(t *testing.T) {
	s := defaults(t)
	_, props := s.byName(t, "AWS::Events::Rule", "Name", NamePrefix+"-RoleChanges")
	if props["State"] != "ENABLED" {
		t.Errorf("State = %v", props["State"])
	}
	pattern := props["EventPattern"].(map[string]any)
	detail := pattern["detail"].(map[string]any)
	if !jsonEqual(t, pattern["source"], []any{"aws.iam"}) || !jsonEqual(t, pattern["detail-type"], []any{"AWS API Call via CloudTrail"}) {
		t.Errorf("source/detail-type = %v / %v", pattern["source"], pattern["detail-type"])
	}
	if !jsonEqual(t, detail["eventSource"], []any{"iam.amazonaws.com"}) {
		t.Errorf("eventSource = %v", detail["eventSource"])
	}
	wantNames := []any{"CreateRole", "UpdateAssumeRolePolicy", "AttachRolePolicy", "DetachRolePolicy", "PutRolePolicy",
		"DeleteRolePolicy", "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary", "UpdateRole"}
	wantPolicyNames := []any{"CreatePolicyVersion", "SetDefaultPolicyVersion", "DeletePolicyVersion"}
	if !jsonEqual(t, detail["errorCode"], []any{map[string]any{"exists": false}}) {
		t.Errorf("errorCode = %v, want exists:false", detail["errorCode"])
	}
	enforcerRole, _ := s.byName(t, "AWS::IAM::Role", "RoleName", EnforcerName)
	sweeperRole, _ := s.byName(t, "AWS::IAM::Role", "RoleName", SweeperName)
	issuer := func(cond any) map[string]any {
		return map[string]any{"sessionContext": map[string]any{"sessionIssuer": map[string]any{"arn": []any{cond}}}}
	}
	ids := []map[string]any{
		issuer(map[string]any{"exists": false}),
		issuer(map[string]any{"anything-but": []any{getAtt(enforcerRole, "Arn"), getAtt(sweeperRole, "Arn")}}),
	}
	lockdownRef := getAtt("LockdownPolicy", "PolicyArn")
	var wantOr []any
	for _, id := range ids {
		wantOr = append(wantOr, map[string]any{"eventName": wantNames, "userIdentity": id})
	}
	for _, id := range ids {
		wantOr = append(wantOr, map[string]any{"eventName": wantPolicyNames, "requestParameters": map[string]any{"policyArn": []any{lockdownRef}}, "userIdentity": id})
	}
	if !jsonEqual(t, detail["$or"], wantOr) {
		t.Errorf("$or = %v, want %v", detail["$or"], wantOr)
	}

	targets := props["Targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("%d targets, want 1", len(targets))
	}
	fnID, _ := s.byName(t, "AWS::Lambda::Function", "FunctionName", EnforcerName)
	dlqID, _ := s.byName(t, "AWS::SQS::Queue", "QueueName", NamePrefix+"-EventDeliveryDLQ")
	tg := targets[0].(map[string]any)
	if !jsonEqual(t, tg["Arn"], getAtt(fnID, "Arn")) ||
		!jsonEqual(t, tg["DeadLetterConfig"], map[string]any{"Arn": getAtt(dlqID, "Arn")}) ||
		!jsonEqual(t, tg["RetryPolicy"], map[string]any{"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}) {
		t.Errorf("target = %v", tg)
	}

	// The synthesized pattern, with the ARNs CloudFormation fills in,
	// against real CloudTrail records of every identity type.
	r := newResolver(t, s)
	resolved := r.resolve(pattern).(map[string]any)
	checkPatternOnCorpus(t, resolved, []string{r.getAtt(enforcerRole, "Arn"), r.getAtt(sweeperRole, "Arn")}, r.getAtt("LockdownPolicy", "PolicyArn"))
}

func TestSweepSchedule(t *testing.T) {
	for _, tc := range []struct {
		s    synthesized
		expr string
	}{{defaults(t), "rate(1 day)"}, {full(t), "cron(0 3 * * ? *)"}} {
		_, props := tc.s.byName(t, "AWS::Events::Rule", "Name", NamePrefix+"-Sweep")
		if props["ScheduleExpression"] != tc.expr {
			t.Errorf("ScheduleExpression = %v, want %q", props["ScheduleExpression"], tc.expr)
		}
		fnID, _ := tc.s.byName(t, "AWS::Lambda::Function", "FunctionName", SweeperName)
		tg := props["Targets"].([]any)[0].(map[string]any)
		if !jsonEqual(t, tg["Arn"], getAtt(fnID, "Arn")) || tg["DeadLetterConfig"] == nil || tg["RetryPolicy"] == nil {
			t.Errorf("sweep target = %v", tg)
		}
	}
}

func TestQueues(t *testing.T) {
	s := defaults(t)
	for _, name := range []string{NamePrefix + "-EventDeliveryDLQ", NamePrefix + "-FailedInvocations", RecheckDLQName} {
		id, props := s.byName(t, "AWS::SQS::Queue", "QueueName", name)
		if props["SqsManagedSseEnabled"] != true || props["MessageRetentionPeriod"] != float64(14*24*3600) {
			t.Errorf("%s: %v", name, props)
		}
		// TLS only: a Deny on aws:SecureTransport=false in the queue policy.
		if !s.tlsOnly(t, id) {
			t.Errorf("%s: no TLS-only queue policy", name)
		}
	}
}

// statements returns every statement of the identity policies attached to
// a role: its inline policies and any AWS::IAM::Policy naming it.
func (s synthesized) statements(t *testing.T, roleName string) []map[string]any {
	t.Helper()
	id, props := s.byName(t, "AWS::IAM::Role", "RoleName", roleName)
	var docs []any
	for _, p := range props["Policies"].([]any) {
		docs = append(docs, p.(map[string]any)["PolicyDocument"])
	}
	for _, r := range s.resources("AWS::IAM::Policy") {
		p := r["Properties"].(map[string]any)
		if jsonEqual(t, p["Roles"], []any{ref(id)}) {
			docs = append(docs, p["PolicyDocument"])
		}
	}
	if ma := props["ManagedPolicyArns"]; ma != nil {
		t.Errorf("%s has managed policies %v; every permission must be visible inline", roleName, ma)
	}
	var out []map[string]any
	for _, d := range docs {
		for _, st := range d.(map[string]any)["Statement"].([]any) {
			out = append(out, st.(map[string]any))
		}
	}
	return out
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			} else {
				b, _ := json.Marshal(e)
				out = append(out, string(b))
			}
		}
		return out
	case nil:
		return nil
	}
	b, _ := json.Marshal(v)
	return []string{string(b)}
}

func TestRolePolicies(t *testing.T) {
	s := defaults(t)
	readOnly := func(a string) bool {
		i := strings.Index(a, ":")
		verb := a[i+1:]
		return strings.HasPrefix(verb, "Get") || strings.HasPrefix(verb, "List")
	}
	for _, role := range []string{EnforcerName, SweeperName} {
		t.Run(role, func(t *testing.T) {
			_, props := s.byName(t, "AWS::IAM::Role", "RoleName", role)
			if !jsonEqual(t, props["AssumeRolePolicyDocument"].(map[string]any)["Statement"], []any{map[string]any{
				"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "lambda.amazonaws.com"}}}) {
				t.Errorf("trust policy = %v", props["AssumeRolePolicyDocument"])
			}
			allowed := map[string][]map[string]any{}
			denyGuardrail := false
			for _, st := range s.statements(t, role) {
				actions := strs(st["Action"])
				resources := strs(st["Resource"])
				if st["NotAction"] != nil || st["NotResource"] != nil {
					t.Errorf("statement %v uses NotAction/NotResource", st)
				}
				for _, a := range actions {
					if a == "*" || strings.HasSuffix(a, ":*") || a == "iam:*" {
						t.Errorf("statement %v grants a service wildcard %q", st["Sid"], a)
					}
				}
				if st["Effect"] == "Deny" {
					res, _ := json.Marshal(st["Resource"])
					if slices.Contains(actions, "iam:UpdateAssumeRolePolicy") && slices.Contains(actions, "iam:AttachRolePolicy") &&
						slices.Contains(actions, "iam:PutRolePolicy") && strings.Contains(string(res), ":role/IamRoleGuardrail-*") &&
						strings.Contains(string(res), ":role/aws-service-role/*") && strings.Contains(string(res), ":role/*cdk-hnb659fds-cfn-exec-role-") {
						denyGuardrail = true
					}
					continue
				}
				for _, a := range actions {
					allowed[a] = append(allowed[a], st)
					// Writes never on "*": every write here has a
					// narrower resource or condition.
					if !readOnly(a) && slices.Contains(resources, "*") {
						t.Errorf("write %s allowed on Resource *", a)
					}
				}
			}
			if !denyGuardrail {
				t.Error("no explicit Deny of IAM writes on the guardrail's own, service-linked, reserved and exempt roles")
			}
			attach := allowed["iam:AttachRolePolicy"]
			if len(attach) != 1 || !jsonEqual(t, attach[0]["Condition"], map[string]any{"ArnEquals": map[string]any{"iam:PolicyARN": getAtt("LockdownPolicy", "PolicyArn")}}) {
				t.Errorf("AttachRolePolicy statements %v: want one, conditioned on the lockdown policy ARN", attach)
			}
			for _, a := range []string{"iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:GetRole", "iam:ListAttachedRolePolicies",
				"iam:ListRolePolicies", "iam:GetRolePolicy", "iam:GetPolicy", "iam:GetPolicyVersion", "logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"} {
				if len(allowed[a]) == 0 {
					t.Errorf("%s not allowed", a)
				}
			}
			for _, a := range []string{"iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:CreatePolicyVersion",
				"iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"} {
				if len(allowed[a]) == 0 {
					t.Errorf("%s not allowed; restoring the lockdown document needs it", a)
				}
				for _, st := range allowed[a] {
					if !jsonEqual(t, st["Resource"], getAtt("LockdownPolicy", "PolicyArn")) {
						t.Errorf("%s on %v, want only the lockdown policy", a, st["Resource"])
					}
				}
			}
			for _, a := range []string{"iam:DetachRolePolicy", "iam:DeleteRolePolicy", "iam:DeleteRole", "iam:CreateRole", "iam:PassRole", "iam:DeletePolicy"} {
				if len(allowed[a]) > 0 {
					t.Errorf("%s allowed; the guardrail never needs it", a)
				}
			}
			gaad := len(allowed["iam:GetAccountAuthorizationDetails"]) > 0
			if gaad != (role == SweeperName) {
				t.Errorf("GetAccountAuthorizationDetails allowed = %v, want it for the sweeper only", gaad)
			}
		})
	}
}

func TestLockdownPolicy(t *testing.T) {
	for _, tc := range []struct {
		s         synthesized
		extra     []string
		exempt    []string
		buckets   []string
		audiences []string
	}{
		{defaults(t), nil, nil, nil, nil},
		{full(t), []string{"ram:CreateResourceShare"}, []string{"BreakGlass", "/admin/*"}, []string{"org-trail-logs-111122223333"}, []string{tokenAudience, tokenAudience2}},
	} {
		_, props := tc.s.byName(t, "AWS::IAM::ManagedPolicy", "ManagedPolicyName", lockdown.PolicyName)
		r := newResolver(t, tc.s)
		// The document is pkg/lockdown's, with the values CloudFormation
		// fills in: partition, account, the alarm key's ARN, the CDK
		// assets bucket, the trail bucket and the operator's buckets.
		keyID, _ := tc.s.byName(t, "AWS::KMS::Key", "Description", "Encrypts the guardrail's alarm topic")
		buckets := []string{"cdk-hnb659fds-assets-" + testAccount + "-us-east-1"}
		for id := range tc.s.resources("AWS::S3::Bucket") {
			buckets = append(buckets, r.ref(id))
		}
		buckets = append(buckets, tc.buckets...)
		want, err := lockdown.Document(lockdown.Config{Partition: "aws", Account: testAccount, ExtraDeniedActions: tc.extra,
			ExemptRoles: append(settings.BootstrapRoleNames("hnb659fds", testAccount, "us-east-1"), tc.exempt...),
			AlarmKeyARN: r.getAtt(keyID, "Arn"), ProtectedBuckets: buckets, AllowedTokenAudiences: tc.audiences})
		if err != nil {
			t.Fatal(err)
		}
		var b any
		if err := json.Unmarshal(want, &b); err != nil {
			t.Fatal(err)
		}
		got := r.resolve(props["PolicyDocument"])
		if !reflect.DeepEqual(got, b) {
			g, _ := json.Marshal(got)
			t.Errorf("lockdown document differs from pkg/lockdown's:\n got %s\nwant %s", g, want)
		}
		n := lockdown.Size(want)
		t.Logf("lockdown policy as deployed: %d of %d characters", n, lockdown.MaxSize)
	}
}

func TestAlarms(t *testing.T) {
	for _, tc := range []struct {
		s     synthesized
		email bool
	}{{defaults(t), false}, {full(t), true}} {
		topicID, _ := tc.s.byName(t, "AWS::SNS::Topic", "TopicName", NamePrefix+"-Alarms")
		_, topic := tc.s.byName(t, "AWS::SNS::Topic", "TopicName", NamePrefix+"-Alarms")
		if topic["KmsMasterKeyId"] == nil {
			t.Error("alarm topic is not encrypted")
		}
		subs := map[string]map[string]any{}
		for id, r := range tc.s.resources("AWS::SNS::Subscription") {
			if jsonEqual(t, r["Properties"].(map[string]any)["TopicArn"], ref(topicID)) {
				subs[id] = r
			}
		}
		if tc.email != (len(subs) == 1) {
			t.Errorf("email subscriptions = %d, want email=%v", len(subs), tc.email)
		}
		for _, r := range subs {
			p := r["Properties"].(map[string]any)
			if p["Protocol"] != "email" || p["Endpoint"] != "security@example.com" || !jsonEqual(t, p["TopicArn"], ref(topicID)) {
				t.Errorf("subscription = %v", p)
			}
		}
		want := map[string][2]string{ // alarm name -> namespace, metric
			NamePrefix + "-Enforcer-Errors":            {"AWS/Lambda", "Errors"},
			NamePrefix + "-Enforcer-Throttles":         {"AWS/Lambda", "Throttles"},
			NamePrefix + "-Sweeper-Errors":             {"AWS/Lambda", "Errors"},
			NamePrefix + "-Sweeper-Throttles":          {"AWS/Lambda", "Throttles"},
			NamePrefix + "-EventDeliveryDLQ-NotEmpty":  {"AWS/SQS", "ApproximateNumberOfMessagesVisible"},
			NamePrefix + "-FailedInvocations-NotEmpty": {"AWS/SQS", "ApproximateNumberOfMessagesVisible"},
			NamePrefix + "-RecheckDLQ-NotEmpty":        {"AWS/SQS", "ApproximateNumberOfMessagesVisible"},
			NamePrefix + "-ErrorRecords":               {MetricNamespace, ErrorMetric},
		}
		// And the heartbeat and lag alarms (TestOperationsAlarms).
		alarms := tc.s.resources("AWS::CloudWatch::Alarm")
		if len(alarms) != len(want)+2 {
			t.Errorf("%d alarms, want %d", len(alarms), len(want)+2)
		}
		for name, w := range want {
			_, p := tc.s.byName(t, "AWS::CloudWatch::Alarm", "AlarmName", name)
			if p["Namespace"] != w[0] || p["MetricName"] != w[1] || p["Threshold"] != float64(1) ||
				p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || p["TreatMissingData"] != "notBreaching" ||
				!jsonEqual(t, p["AlarmActions"], []any{ref(topicID)}) {
				t.Errorf("alarm %s = %v", name, p)
			}
		}
		filters := tc.s.resources("AWS::Logs::MetricFilter")
		if len(filters) != 3 {
			t.Errorf("%d metric filters, want one per log group and the sweeper heartbeat's", len(filters))
		}
		for _, r := range filters {
			p := r["Properties"].(map[string]any)
			if p["FilterPattern"] == SweepSummaryFilter {
				continue
			}
			mt := p["MetricTransformations"].([]any)[0].(map[string]any)
			if p["FilterPattern"] != `{ $.level = "ERROR" }` || mt["MetricName"] != ErrorMetric || mt["MetricNamespace"] != MetricNamespace {
				t.Errorf("metric filter = %v", p)
			}
		}
	}
}

func TestQueryDefinitions(t *testing.T) {
	s := defaults(t)
	enforcerLogs, _ := s.byName(t, "AWS::Logs::LogGroup", "LogGroupName", "/aws/lambda/"+EnforcerName)
	sweeperLogs, _ := s.byName(t, "AWS::Logs::LogGroup", "LogGroupName", "/aws/lambda/"+SweeperName)
	for _, q := range Queries(NamePrefix) {
		_, p := s.byName(t, "AWS::Logs::QueryDefinition", "Name", q.Name)
		if p["QueryString"] != q.String || !jsonEqual(t, p["LogGroupNames"], []any{ref(enforcerLogs), ref(sweeperLogs)}) {
			t.Errorf("query %s = %v", q.Name, p)
		}
		if !strings.Contains(q.String, `msg = "decision"`) && !strings.Contains(q.String, `level = "ERROR"`) {
			t.Errorf("query %s selects neither decisions nor errors", q.Name)
		}
	}
	names := []string{}
	for _, q := range Queries(NamePrefix) {
		names = append(names, q.Name)
	}
	for _, want := range []string{"All changes", "History of one role", "Principals removed", "Failures"} {
		if !slices.Contains(names, NamePrefix+"/"+want) {
			t.Errorf("no saved query %q", want)
		}
	}
}

func TestTrail(t *testing.T) {
	if n := len(defaults(t).resources("AWS::CloudTrail::Trail")); n != 0 {
		t.Errorf("default stack has %d trails, want none (createTrail is off by default)", n)
	}
	s := full(t)
	_, p := s.byName(t, "AWS::CloudTrail::Trail", "TrailName", NamePrefix+"-ManagementEvents")
	if p["IsLogging"] != true || p["IsMultiRegionTrail"] != true || p["IncludeGlobalServiceEvents"] != true || p["EnableLogFileValidation"] != true ||
		!jsonEqual(t, p["EventSelectors"], []any{map[string]any{"IncludeManagementEvents": true, "ReadWriteType": "WriteOnly"}}) {
		t.Errorf("trail = %v", p)
	}
	for _, r := range s.resources("AWS::S3::Bucket") {
		bp := r["Properties"].(map[string]any)
		if !jsonEqual(t, bp["PublicAccessBlockConfiguration"], map[string]any{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true}) {
			t.Errorf("trail bucket is not private: %v", bp)
		}
	}
}

func TestRegionGuard(t *testing.T) {
	for _, region := range []string{"eu-west-1", "us-east-2", ""} {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
		_, err := New(app, Props{Settings: settings.Default(), Region: region})
		var re *RegionError
		if !errors.As(err, &re) {
			t.Fatalf("region %q: err = %v, want *RegionError", region, err)
		}
		for _, want := range []string{"us-east-1", "IAM", "global service"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("region %q: error %q does not say %q", region, err, want)
			}
		}
		if n := len(*app.Node().Children()); n != 0 {
			t.Errorf("region %q: %d constructs created before refusing", region, n)
		}
	}
}

func TestNewErrors(t *testing.T) {
	empty := settings.Default()
	empty.DistDir = t.TempDir()
	tests := []struct {
		name  string
		props Props
		is    error
		want  string
	}{
		{"no build", Props{Settings: empty, Region: RequiredRegion}, ErrMissingBuild, "make build"},
		{"bad account", Props{Settings: settings.Default(), Region: RequiredRegion, Account: "12345"}, nil, "12-digit"},
		{"unprotected stack name", Props{Settings: settings.Default(), Region: RequiredRegion, StackName: "Guardrail"}, nil, "must be"},
	}
	for _, tt := range tests {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
		_, err := New(app, tt.props)
		if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestContextSettingsErrors(t *testing.T) {
	// Context validation through the CDK app, as `cdk -c` passes it.
	tests := []struct {
		ctx  map[string]any
		key  string
		want string
	}{
		{map[string]any{"trustedAccounts": "12345678901"}, settings.KeyTrustedAccounts, "12-digit account ID"},
		{map[string]any{"trustedOrgIds": "org-1"}, settings.KeyTrustedOrgIDs, "organization ID"},
		{map[string]any{"mode": "monitor"}, settings.KeyMode, "is not a mode"},
		{map[string]any{"exemptRoles": "["}, settings.KeyExemptRoles, "not a valid glob"},
	}
	for _, tt := range tests {
		ctx := tt.ctx
		app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(t.TempDir())})
		_, err := ContextSettings(app)
		var se *settings.Error
		if !errors.As(err, &se) || se.Key != tt.key || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("context %v: err = %v, want key %s saying %q", tt.ctx, err, tt.key, tt.want)
		}
	}
}

func TestResourceNamesShareThePrefix(t *testing.T) {
	// The lockdown protects the guardrail by name prefix: every physical
	// name must carry it.
	nameProps := map[string]string{
		"AWS::Lambda::Function": "FunctionName", "AWS::IAM::Role": "RoleName", "AWS::Events::Rule": "Name",
		"AWS::SQS::Queue": "QueueName", "AWS::SNS::Topic": "TopicName", "AWS::CloudWatch::Alarm": "AlarmName",
		"AWS::Logs::LogGroup": "LogGroupName", "AWS::CloudTrail::Trail": "TrailName",
	}
	s := full(t)
	for typ, prop := range nameProps {
		for id, r := range s.resources(typ) {
			name, ok := r["Properties"].(map[string]any)[prop].(string)
			if !ok || !(strings.HasPrefix(name, NamePrefix+"-") || strings.HasPrefix(name, "/aws/lambda/"+NamePrefix+"-")) {
				t.Errorf("%s %s has name %v without the %s- prefix", typ, id, r["Properties"].(map[string]any)[prop], NamePrefix)
			}
		}
	}
}

// TestFunctionsRebuildLockdown: both functions, from nothing but their
// environment as CloudFormation resolves it, build exactly the lockdown
// document the stack deploys. They restore that document when someone
// changes the policy's default version, so a missing input (an extra
// action, the alarm key, a protected bucket) would make them write a
// weaker lockdown over the real one on every sweep.
func TestFunctionsRebuildLockdown(t *testing.T) {
	for name, s := range map[string]synthesized{"defaults": defaults(t), "full": full(t)} {
		r := newResolver(t, s)
		_, props := s.byName(t, "AWS::IAM::ManagedPolicy", "ManagedPolicyName", lockdown.PolicyName)
		deployed, err := json.Marshal(r.resolve(props["PolicyDocument"]))
		if err != nil {
			t.Fatal(err)
		}
		want, err := policy.Parse(deployed)
		if err != nil {
			t.Fatalf("%s: deployed lockdown: %v", name, err)
		}
		for _, fn := range []string{EnforcerName, SweeperName} {
			_, fprops := s.byName(t, "AWS::Lambda::Function", "FunctionName", fn)
			env := map[string]string{}
			for k, v := range r.resolve(fprops["Environment"].(map[string]any)["Variables"]).(map[string]any) {
				env[k] = v.(string)
			}
			c, err := config.FromEnv(func(k string) string { return env[k] })
			if err != nil {
				t.Fatalf("%s %s: config.FromEnv: %v", name, fn, err)
			}
			lc, err := guardrail.LockdownConfig(c)
			if err != nil {
				t.Fatalf("%s %s: %v", name, fn, err)
			}
			raw, err := lockdown.Document(lc)
			if err != nil {
				t.Fatalf("%s %s: lockdown.Document: %v", name, fn, err)
			}
			got, err := policy.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !policy.Equivalent(got, want) {
				t.Errorf("%s %s: the function's lockdown document differs from the deployed one:\n got %s\nwant %s", name, fn, raw, deployed)
			}
		}
	}
}
