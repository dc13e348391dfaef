package cloudtrail_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iamguardrail/guardrail/lambdas/fixtures"
	"github.com/iamguardrail/guardrail/pkg/cloudtrail"
)

// want is what Decode must make of one fixture: either a role change or an
// ignore reason (a substring of it).
type want struct {
	role, trustContains, attached, detached, issuer, actor string
	ignored                                                string
}

func TestDecodeEventsDir(t *testing.T) {
	const acct = "111122223333"
	tests := map[string]want{
		"CreateRole-lambda-execution-role.json":             {role: "orders-api-lambda", trustContains: "lambda.amazonaws.com", issuer: "arn:aws:iam::" + acct + ":role/cfn-deployer"},
		"CreateRole-foreign-account.json":                   {role: "partner-reporting", trustContains: "999988887777", actor: "arn:aws:iam::" + acct + ":user/alice"},
		"CreateRole-org-restricted.json":                    {role: "org-shared-readonly", trustContains: "aws:PrincipalOrgID"},
		"CreateRole-github-oidc-no-subject.json":            {role: "github-deploy", trustContains: "oidc-provider/token.actions.githubusercontent.com"},
		"CreateRole-github-oidc-tenants.json":               {role: "github-release", trustContains: "token.actions.githubusercontent.com:repository_owner_id"},
		"UpdateAssumeRolePolicy-principal-star.json":        {role: "legacy-batch", trustContains: `"Principal": "*"`, actor: "arn:aws:iam::" + acct + ":root"},
		"UpdateAssumeRolePolicy-trusted-account.json":       {role: "partner-reporting", trustContains: "444455556666"},
		"AttachRolePolicy-basic-execution.json":             {role: "orders-api-lambda", attached: "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
		"DetachRolePolicy-lockdown.json":                    {role: "orders-api-lambda", detached: "arn:aws:iam::" + acct + ":policy/GuardrailLockdown"},
		"PutRolePolicy-inline.json":                         {role: "orders-api-lambda"},
		"DeleteRolePolicy-inline.json":                      {role: "orders-api-lambda"},
		"PutRolePermissionsBoundary.json":                   {role: "partner-reporting"},
		"DeleteRolePermissionsBoundary.json":                {role: "partner-reporting"},
		"UpdateRole-max-session.json":                       {role: "github-deploy"},
		"CreateServiceLinkedRole-ecs.json":                  {ignored: "service-linked roles are managed by AWS"},
		"ignored-UpdateAssumeRolePolicy-access-denied.json": {ignored: "failed with AccessDenied"},
		"ignored-TagRole.json":                              {ignored: "TagRole does not change"},
		"ignored-forged-source.json":                        {ignored: `source "com.example.iam-forwarder" is not "aws.iam"`},
		// The guardrail's own change decodes: recognising the guardrail's
		// roles needs the configuration, which is the handler's job.
		"ignored-guardrail-own-change.json": {role: "partner-reporting", trustContains: "ec2.amazonaws.com", issuer: "arn:aws:iam::" + acct + ":role/IamRoleGuardrail-EnforcerRole"},
	}
	files, err := fixtures.Events()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		t.Run(f.Name, func(t *testing.T) {
			w, ok := tests[f.Name]
			if !ok {
				t.Fatalf("no expectation for %s: add one to this table", f.Name)
			}
			seen[f.Name] = true
			check(t, f.Event, w)
		})
	}
	for name := range tests {
		if !seen[name] {
			t.Errorf("expected fixture %s is missing from events/", name)
		}
	}
	// Every handled event name has a fixture, so the handler tests cover it.
	names := map[string]bool{}
	for _, f := range files {
		c, err := cloudtrail.Decode(f.Event)
		if err == nil {
			names[c.EventName] = true
		}
	}
	for _, h := range cloudtrail.RoleEventNames {
		if !names[h] {
			t.Errorf("no usable fixture in events/ for %s", h)
		}
	}
}

func check(t *testing.T, ev events.CloudWatchEvent, w want) {
	t.Helper()
	c, err := cloudtrail.Decode(ev)
	if w.ignored != "" {
		ig, ok := cloudtrail.IsIgnored(err)
		if !ok {
			t.Fatalf("Decode = %+v, %v; want ignored (%s)", c, err, w.ignored)
		}
		if !strings.Contains(ig.Reason, w.ignored) {
			t.Fatalf("ignore reason %q does not contain %q", ig.Reason, w.ignored)
		}
		if c.EventID == "" && ev.Source == cloudtrail.Source {
			t.Errorf("ignored change lost its event ID")
		}
		return
	}
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if c.RoleName != w.role {
		t.Errorf("RoleName = %q, want %q", c.RoleName, w.role)
	}
	if !strings.Contains(c.TrustPolicy, w.trustContains) || (w.trustContains == "") != (c.TrustPolicy == "") {
		t.Errorf("TrustPolicy = %q, want it to contain %q", c.TrustPolicy, w.trustContains)
	}
	if c.TrustPolicy != "" && !json.Valid([]byte(c.TrustPolicy)) {
		t.Errorf("TrustPolicy is not JSON: %q", c.TrustPolicy)
	}
	if c.AttachedPolicyARN != w.attached || c.DetachedPolicyARN != w.detached {
		t.Errorf("attached/detached = %q/%q, want %q/%q", c.AttachedPolicyARN, c.DetachedPolicyARN, w.attached, w.detached)
	}
	if w.issuer != "" && c.SessionIssuer != w.issuer {
		t.Errorf("SessionIssuer = %q, want %q", c.SessionIssuer, w.issuer)
	}
	if w.actor != "" && c.Actor != w.actor {
		t.Errorf("Actor = %q, want %q", c.Actor, w.actor)
	}
	if c.EventID == "" || c.EventName == "" || c.EventTime.IsZero() || c.Actor == "" {
		t.Errorf("incomplete change: %+v", c)
	}
}

// TestDecodeCorpus runs every real CloudTrail record of the shared corpus
// through Decode: each either names a role or is ignored with a reason.
func TestDecodeCorpus(t *testing.T) {
	files, err := fixtures.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("only %d corpus records", len(files))
	}
	// Records whose treatment is not obvious from the event name.
	special := map[string]want{
		"AttachRolePolicy__panther-analysis__4.json":        {ignored: "failed with NoSuchEntity"},
		"CreateServiceLinkedRole__panther-analysis__1.json": {ignored: "failed with AccessDenied"},
		"CreateServiceLinkedRole__panther-analysis__6.json": {ignored: `source "aws.s3"`},
		"UpdateAssumeRolePolicy__panther-analysis__1.json":  {ignored: "names no role"},
		"UpdateAssumeRolePolicy__panther-analysis__3.json":  {ignored: "names no role"},
		"TagRole__noq-iambic__1.json":                       {ignored: "TagRole does not change"},
		"AttachRolePolicy__gtech-practicum__1.json":         {role: "practicum_test_role1", attached: "arn:aws:iam::01234567890:policy/AllowKMS"},
		"CreateRole__stratus-red-team__1.json":              {role: "stratus-red-team-malicious-iam-role", trustContains: "193672423079"},
		"CreateRole__panther-analysis__1.json":              {role: "new-role"},
	}
	var evaluated, ignored int
	for _, f := range files {
		t.Run(f.Name, func(t *testing.T) {
			if w, ok := special[f.Name]; ok {
				check(t, f.Event, w)
			}
			c, err := cloudtrail.Decode(f.Event)
			switch ig, ok := cloudtrail.IsIgnored(err); {
			case ok:
				ignored++
				if ig.Reason == "" {
					t.Error("ignored without a reason")
				}
			case err != nil:
				t.Fatalf("Decode: %v", err)
			default:
				evaluated++
				if c.RoleName == "" || c.EventID == "" {
					t.Errorf("usable change without role or event ID: %+v", c)
				}
				if strings.HasPrefix(f.Name, "CreateRole__invictus") && c.TrustPolicy == "" {
					t.Error("CreateRole record lost its trust policy")
				}
			}
		})
	}
	t.Logf("corpus: %d evaluated, %d ignored", evaluated, ignored)
}

func TestDecodeEdgeCases(t *testing.T) {
	envelope := func(detail string) events.CloudWatchEvent {
		return events.CloudWatchEvent{Source: "aws.iam", DetailType: "AWS API Call via CloudTrail",
			AccountID: "111122223333", Time: time.Unix(0, 0), Detail: json.RawMessage(detail)}
	}
	base := `"eventID":"e1","eventSource":"iam.amazonaws.com","eventTime":"2026-11-27T09:00:00Z","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u"}`
	tests := []struct {
		name   string
		ev     events.CloudWatchEvent
		want   want
		claim  func(cloudtrail.Change) bool
		reason string
	}{
		{name: "wrong detail-type", ev: events.CloudWatchEvent{Source: "aws.iam", DetailType: "AWS Console Sign In via CloudTrail", Detail: json.RawMessage(`{}`)},
			want: want{ignored: "detail-type"}},
		{name: "detail not JSON", ev: envelope(`[1,2]`), want: want{ignored: "detail is not a JSON object"}},
		{name: "detail null", ev: envelope(`null`), want: want{ignored: "detail is not a JSON object"}},
		{name: "eventSource wrong type", ev: envelope(`{"eventSource":7,"eventName":"CreateRole"}`), want: want{ignored: "eventSource is not a string"}},
		{name: "no eventName", ev: envelope(`{` + base + `}`), want: want{ignored: "no eventName"}},
		{name: "errorCode empty string is not a failure", ev: envelope(`{` + base + `,"eventName":"UpdateRole","errorCode":"","requestParameters":{"roleName":"r"}}`),
			want: want{role: "r"}},
		{name: "errorCode of odd type is evaluated", ev: envelope(`{` + base + `,"eventName":"UpdateRole","errorCode":{"x":1},"requestParameters":{"roleName":"r"}}`),
			want: want{role: "r"}},
		{name: "role name from responseElements", ev: envelope(`{` + base + `,"eventName":"CreateRole","requestParameters":{},"responseElements":{"role":{"roleName":"from-response"}}}`),
			want: want{role: "from-response"}},
		{name: "responseElements None string", ev: envelope(`{` + base + `,"eventName":"CreateRole","requestParameters":{},"responseElements":"None"}`),
			want: want{ignored: "names no role"}},
		{name: "requestParameters not an object", ev: envelope(`{` + base + `,"eventName":"CreateRole","requestParameters":"x"}`),
			want: want{ignored: "requestParameters"}},
		{name: "invalid role name", ev: envelope(`{` + base + `,"eventName":"UpdateRole","requestParameters":{"roleName":"a/b"}}`),
			want: want{ignored: "not a valid IAM role name"}},
		{name: "role name too long", ev: envelope(`{` + base + `,"eventName":"UpdateRole","requestParameters":{"roleName":"` + strings.Repeat("a", 65) + `"}}`),
			want: want{ignored: "not a valid IAM role name"}},
		{name: "trust policy as object", ev: envelope(`{` + base + `,"eventName":"UpdateAssumeRolePolicy","requestParameters":{"roleName":"r","policyDocument":{"Version":"2012-10-17","Statement":[]}}}`),
			want: want{role: "r", trustContains: `"Statement":[]`}},
		{name: "unreadable claim is dropped, role still evaluated", ev: envelope(`{` + base + `,"eventName":"UpdateAssumeRolePolicy","requestParameters":{"roleName":"r","policyDocument":42}}`),
			want: want{role: "r"}},
		{name: "AWS service caller", ev: envelope(`{"eventID":"e2","eventSource":"iam.amazonaws.com","eventName":"UpdateRole","eventTime":"2026-11-27T09:00:00Z","userIdentity":{"type":"AWSService","invokedBy":"cloudformation.amazonaws.com"},"requestParameters":{"roleName":"r"}}`),
			want: want{role: "r", actor: "cloudformation.amazonaws.com"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cloudtrail.Decode(tc.ev)
			if tc.want.ignored != "" {
				ig, ok := cloudtrail.IsIgnored(err)
				if !ok || !strings.Contains(ig.Reason, tc.want.ignored) {
					t.Fatalf("Decode = %+v, %v; want ignored with %q", c, err, tc.want.ignored)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if c.RoleName != tc.want.role {
				t.Errorf("RoleName = %q, want %q", c.RoleName, tc.want.role)
			}
			if !strings.Contains(c.TrustPolicy, tc.want.trustContains) || (tc.want.trustContains == "") != (c.TrustPolicy == "") {
				t.Errorf("TrustPolicy = %q, want %q", c.TrustPolicy, tc.want.trustContains)
			}
			if tc.want.actor != "" && c.Actor != tc.want.actor {
				t.Errorf("Actor = %q, want %q", c.Actor, tc.want.actor)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"eventSource":"iam.amazonaws.com","eventName":"CreateRole","requestParameters":{"roleName":"r","assumeRolePolicyDocument":"{}"}}`))
	f.Add([]byte(`{"eventSource":"iam.amazonaws.com","eventName":"AttachRolePolicy","responseElements":"None","requestParameters":{"roleName":"r","policyArn":"a"}}`))
	f.Fuzz(func(t *testing.T, detail []byte) {
		ev := events.CloudWatchEvent{Source: "aws.iam", DetailType: "AWS API Call via CloudTrail", Detail: detail}
		c, err := cloudtrail.Decode(ev)
		if err == nil && c.RoleName == "" {
			t.Fatalf("usable change without a role name: %+v", c)
		}
		if _, ok := cloudtrail.IsIgnored(err); err != nil && !ok {
			t.Fatalf("Decode returned a non-Ignored error: %v", err)
		}
	})
}

// Policy-version records name the policy and the version made default;
// inline-policy records name the inline policy (issue 10, items 6 and 7).
func TestDecodePolicyEvents(t *testing.T) {
	const lockdownARN = "arn:aws:iam::111122223333:policy/GuardrailLockdown"
	record := func(name string, req, resp any) events.CloudWatchEvent {
		d, _ := json.Marshal(map[string]any{
			"eventID": "e1", "eventName": name, "eventTime": "2026-11-27T09:22:10Z", "eventSource": cloudtrail.EventSource,
			"recipientAccountId": "111122223333", "userIdentity": map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory"},
			"requestParameters": req, "responseElements": resp,
		})
		return events.CloudWatchEvent{Source: cloudtrail.Source, DetailType: cloudtrail.DetailType, Detail: d}
	}
	tests := []struct {
		name                       string
		ev                         events.CloudWatchEvent
		policyARN, version, inline string
		ignored                    string
	}{
		{name: "create as default", ev: record("CreatePolicyVersion", map[string]any{"policyArn": lockdownARN, "policyDocument": "{}", "setAsDefault": true},
			map[string]any{"policyVersion": map[string]any{"versionId": "v3", "isDefaultVersion": true}}), policyARN: lockdownARN, version: "v3"},
		{name: "create not default", ev: record("CreatePolicyVersion", map[string]any{"policyArn": lockdownARN, "policyDocument": "{}"},
			map[string]any{"policyVersion": map[string]any{"versionId": "v3"}}), policyARN: lockdownARN},
		{name: "set default", ev: record("SetDefaultPolicyVersion", map[string]any{"policyArn": lockdownARN, "versionId": "v1"}, nil), policyARN: lockdownARN, version: "v1"},
		{name: "delete version", ev: record("DeletePolicyVersion", map[string]any{"policyArn": lockdownARN, "versionId": "v1"}, nil), policyARN: lockdownARN},
		{name: "no policy", ev: record("SetDefaultPolicyVersion", map[string]any{"versionId": "v1"}, nil), ignored: "names no managed policy"},
		{name: "delete revocation", ev: record("DeleteRolePolicy", map[string]any{"roleName": "app", "policyName": "GuardrailRevokeOlderSessions"}, nil), inline: "GuardrailRevokeOlderSessions"},
		{name: "put inline", ev: record("PutRolePolicy", map[string]any{"roleName": "app", "policyName": "p", "policyDocument": "{}"}, nil), inline: "p"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cloudtrail.Decode(tc.ev)
			if tc.ignored != "" {
				if ig, ok := cloudtrail.IsIgnored(err); !ok || !strings.Contains(ig.Reason, tc.ignored) {
					t.Fatalf("Decode = %v, want ignored (%s)", err, tc.ignored)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.PolicyARN != tc.policyARN || c.DefaultVersionID != tc.version || c.PolicyName != tc.inline || c.Account != "111122223333" {
				t.Errorf("change %+v", c)
			}
		})
	}
}

// TrustDocument reads the trust document a record's call set, from a bare
// record or its EventBridge envelope, as a JSON string or a nested object.
func TestTrustDocument(t *testing.T) {
	const doc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	quoted, _ := json.Marshal(doc)
	tests := []struct {
		name, data  string
		event, role string
		trust       string
		wantErr     bool
	}{
		{name: "CreateRole, string", data: `{"eventName":"CreateRole","requestParameters":{"roleName":"r","assumeRolePolicyDocument":` + string(quoted) + `}}`,
			event: "CreateRole", role: "r", trust: doc},
		{name: "CreateRole, object", data: `{"eventName":"CreateRole","requestParameters":{"roleName":"r","assumeRolePolicyDocument":` + doc + `}}`,
			event: "CreateRole", role: "r", trust: doc},
		{name: "UpdateAssumeRolePolicy in an envelope", data: `{"source":"aws.iam","detail":{"eventName":"UpdateAssumeRolePolicy","requestParameters":{"roleName":"u","policyDocument":` + string(quoted) + `}}}`,
			event: "UpdateAssumeRolePolicy", role: "u", trust: doc},
		{name: "another call", data: `{"eventName":"AttachRolePolicy","requestParameters":{"roleName":"a","policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}}`,
			event: "AttachRolePolicy", role: "a"},
		{name: "not an object", data: `[1]`, wantErr: true},
		{name: "requestParameters not an object", data: `{"eventName":"CreateRole","requestParameters":"None"}`, event: "CreateRole", wantErr: true},
		{name: "document neither string nor object", data: `{"eventName":"CreateRole","requestParameters":{"assumeRolePolicyDocument":7}}`, event: "CreateRole", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := cloudtrail.TrustDocument([]byte(tc.data))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if rec.EventName != tc.event || (!tc.wantErr && (rec.RoleName != tc.role || rec.TrustPolicy != tc.trust)) {
				t.Errorf("got %+v", rec)
			}
		})
	}
}
