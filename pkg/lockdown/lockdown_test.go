package lockdown

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const acct = "111122223333"

func mustDocument(t testing.TB, c Config) []byte {
	t.Helper()
	doc, err := Document(c)
	if err != nil {
		t.Fatalf("Document(%+v): %v", c, err)
	}
	return doc
}

type parsedStatement struct {
	Sid       string
	Effect    string
	Action    []string
	Resource  []string
	Condition map[string]map[string]any
}

func parse(t testing.TB, doc []byte) []parsedStatement {
	t.Helper()
	var d struct {
		Version   string
		Statement []parsedStatement
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("document is not a policy: %v\n%s", err, doc)
	}
	if d.Version != "2012-10-17" {
		t.Errorf("Version = %q", d.Version)
	}
	return d.Statement
}

// The default document, indented for review, is the golden file.
// stackConfig is what the stack passes by default: the CDK bootstrap roles
// exempt by exact name, the alarm key and the CDK assets bucket.
var stackConfig = Config{
	Account: acct,
	ExemptRoles: []string{"cdk-hnb659fds-deploy-role-" + acct + "-us-east-1", "cdk-hnb659fds-cfn-exec-role-" + acct + "-us-east-1",
		"cdk-hnb659fds-file-publishing-role-" + acct + "-us-east-1"},
	AlarmKeyARN:      "arn:aws:kms:us-east-1:" + acct + ":key/0d5e9f70-1111-2222-3333-444455556666",
	ProtectedBuckets: []string{"cdk-hnb659fds-assets-" + acct + "-us-east-1"},
}

func TestDocumentGolden(t *testing.T) {
	doc := mustDocument(t, stackConfig)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, doc, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	golden := filepath.Join("testdata", "default.json")
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("default document differs from %s (run go test -update and review the diff):\n%s", golden, pretty.Bytes())
	}
	if Size(want) != Size(doc) {
		t.Errorf("Size(indented) = %d, Size(compact) = %d: white space must not count", Size(want), Size(doc))
	}
}

func TestDocumentShape(t *testing.T) {
	withAudiences := withExtras(stackConfig, []string{"ram:CreateResourceShare"})
	withAudiences.AllowedTokenAudiences = []string{"https://api.partner.example"}
	sids := map[string]bool{}
	sidRe := regexp.MustCompile(`^[A-Za-z0-9]+$`) // IAM allows only alphanumerics in Sid
	var all []parsedStatement
	for _, c := range []Config{withExtras(stackConfig, []string{"ram:CreateResourceShare"}), withAudiences} {
		seen := map[string]bool{}
		for _, st := range parse(t, mustDocument(t, c)) {
			if seen[st.Sid] {
				t.Errorf("Sid %q repeated", st.Sid)
			}
			seen[st.Sid] = true
			if !sids[st.Sid] {
				all = append(all, st)
			}
			sids[st.Sid] = true
		}
	}
	for _, st := range all {
		if !sidRe.MatchString(st.Sid) {
			t.Errorf("Sid %q is empty or not alphanumeric", st.Sid)
		}
		if st.Effect != "Deny" {
			t.Errorf("%s: Effect %q, want Deny", st.Sid, st.Effect)
		}
		if len(st.Action) == 0 || len(st.Resource) == 0 {
			t.Errorf("%s: empty Action or Resource", st.Sid)
		}
		for _, a := range st.Action {
			if a == "*" || strings.HasPrefix(a, "*") {
				t.Errorf("%s: action %q denies across services", st.Sid, a)
			}
		}
		for _, r := range st.Resource {
			if r != "*" && !strings.HasPrefix(r, "arn:aws:") {
				t.Errorf("%s: resource %q is not in partition aws", st.Sid, r)
			}
			if r != "*" && !strings.Contains(r, ":"+acct+":") && !strings.HasPrefix(r, "arn:aws:s3:::") {
				t.Errorf("%s: resource %q is not in account %s", st.Sid, r, acct)
			}
		}
	}
	for _, want := range []string{"ProtectGuardrailRuntime", "ProtectGuardrailRoles", "ProtectGuardrailStack",
		"ProtectLockdownPolicy", "ProtectLockdownAttachment", "ProtectGuardrailMarker", "ProtectExemptRoles", "ProtectAlarmKey", "ProtectBuckets",
		"DenyPermissionEscalation", "ProtectAudit", "DenyLongTermCredentials", "DenyNewIdentityProviders",
		"DenyIdentityTokens", "DenyUnlistedTokenAudiences", "DenyTokensWithoutAudience",
		"DenyAccountChanges", "DenyOrganizationChanges", "OperatorDeniedActions"} {
		if !sids[want] {
			t.Errorf("statement %s missing", want)
		}
	}
}

// request is one IAM request for the small evaluator below.
type request struct {
	action, resource string
	// context holds the request's condition keys; a multivalued key
	// (sts:IdentityTokenAudience) has one entry per value, a
	// single-valued key one entry.
	context map[string][]string
}

// one is the request context of a single-valued key.
func one(key, value string) map[string][]string { return map[string][]string{key: {value}} }

// denied reports whether any statement of doc denies req, with IAM's
// matching rules for what this package emits: actions case-insensitive,
// resources case-sensitive, '*' and '?' wildcards that cross ':' and '/',
// and the condition operators ArnEquals (single-valued), Null,
// ForAnyValue:StringEquals (one policy value) and
// ForAnyValue:StringNotEquals (IAM User Guide, "Single-valued vs.
// multivalued context keys": ForAnyValue is true when at least one request
// value matches, false when the key is absent; a negated operator with
// several policy values matches a request value that equals none of them).
func denied(t *testing.T, doc []byte, req request) bool {
	t.Helper()
	for _, st := range parse(t, doc) {
		if !anyMatch(st.Action, req.action, true) || !anyMatch(st.Resource, req.resource, false) {
			continue
		}
		ok := true
		for op, kv := range st.Condition {
			for k, v := range kv {
				got, present := req.context[k]
				switch op {
				case "ArnEquals":
					ok = ok && present && len(got) == 1 && got[0] == v
				case "Null":
					ok = ok && (v == "true") == !present
				case "ForAnyValue:StringEquals":
					anyListed := false
					for _, g := range got {
						anyListed = anyListed || g == v
					}
					ok = ok && anyListed
				case "ForAnyValue:StringNotEquals":
					list := map[string]bool{}
					for _, x := range v.([]any) {
						list[x.(string)] = true
					}
					anyUnlisted := false
					for _, g := range got {
						anyUnlisted = anyUnlisted || !list[g]
					}
					ok = ok && anyUnlisted
				default:
					t.Fatalf("%s: evaluator does not know operator %s", st.Sid, op)
				}
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p, s = strings.ToLower(p), strings.ToLower(s)
		}
		re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(p)) + "$"
		if regexp.MustCompile(re).MatchString(s) {
			return true
		}
	}
	return false
}

func TestDocumentDenies(t *testing.T) {
	doc := mustDocument(t, Config{Account: acct, ExtraDeniedActions: []string{"ec2:CreateVpcPeering*"},
		ExemptRoles:      []string{"cdk-hnb659fds-*", "/breakglass/*", "ci-[ab]??"},
		AlarmKeyARN:      "arn:aws:kms:us-east-1:" + acct + ":key/k1",
		ProtectedBuckets: []string{"trail-logs"}})
	role := func(name string) string { return "arn:aws:iam::" + acct + ":role/" + name }
	lockdownARN := "arn:aws:iam::" + acct + ":policy/GuardrailLockdown"
	tests := []struct {
		name string
		req  request
		want bool
	}{
		{"update guardrail function", request{action: "lambda:UpdateFunctionCode", resource: "arn:aws:lambda:us-east-1:" + acct + ":function:IamRoleGuardrail-Enforcer"}, true},
		{"read guardrail function config", request{action: "lambda:GetFunctionConfiguration", resource: "arn:aws:lambda:us-east-1:" + acct + ":function:IamRoleGuardrail-Enforcer"}, true},
		{"update own function", request{action: "lambda:UpdateFunctionCode", resource: "arn:aws:lambda:us-east-1:" + acct + ":function:orders-api"}, false},
		{"disable guardrail rule", request{action: "events:DisableRule", resource: "arn:aws:events:us-east-1:" + acct + ":rule/IamRoleGuardrail-IamEvents"}, true},
		{"purge guardrail DLQ", request{action: "sqs:PurgeQueue", resource: "arn:aws:sqs:us-east-1:" + acct + ":IamRoleGuardrail-DeadLetters"}, true},
		{"purge own queue", request{action: "sqs:PurgeQueue", resource: "arn:aws:sqs:us-east-1:" + acct + ":orders"}, false},
		{"delete guardrail log stream", request{action: "logs:DeleteLogStream", resource: "arn:aws:logs:us-east-1:" + acct + ":log-group:/aws/lambda/IamRoleGuardrail-Enforcer:log-stream:2026/01/01/x"}, true},
		{"delete guardrail log group", request{action: "logs:DeleteLogGroup", resource: "arn:aws:logs:us-east-1:" + acct + ":log-group:/aws/lambda/IamRoleGuardrail-Enforcer:*"}, true},
		{"delete guardrail alarm", request{action: "cloudwatch:DeleteAlarms", resource: "arn:aws:cloudwatch:us-east-1:" + acct + ":alarm:IamRoleGuardrail-Errors"}, true},
		{"unsubscribe guardrail topic", request{action: "sns:Unsubscribe", resource: "arn:aws:sns:us-east-1:" + acct + ":IamRoleGuardrail-Alarms"}, true},
		{"pass guardrail role", request{action: "iam:PassRole", resource: "arn:aws:iam::" + acct + ":role/IamRoleGuardrail-EnforcerRole"}, true},
		{"widen guardrail role trust", request{action: "iam:UpdateAssumeRolePolicy", resource: "arn:aws:iam::" + acct + ":role/IamRoleGuardrail-EnforcerRole"}, true},
		{"assume guardrail role", request{action: "sts:AssumeRole", resource: "arn:aws:iam::" + acct + ":role/IamRoleGuardrail-EnforcerRole"}, true},
		{"change own role", request{action: "iam:PutRolePolicy", resource: "arn:aws:iam::" + acct + ":role/orders-api"}, false},
		{"delete guardrail stack", request{action: "cloudformation:DeleteStack", resource: "arn:aws:cloudformation:us-east-1:" + acct + ":stack/IamRoleGuardrail/0d5e9f70-1111-2222-3333-444455556666"}, true},
		{"delete own stack", request{action: "cloudformation:DeleteStack", resource: "arn:aws:cloudformation:us-east-1:" + acct + ":stack/orders/0d5e9f70-1111-2222-3333-444455556666"}, false},
		{"new lockdown version", request{action: "iam:CreatePolicyVersion", resource: lockdownARN}, true},
		{"new version of own policy", request{action: "iam:CreatePolicyVersion", resource: "arn:aws:iam::" + acct + ":policy/orders"}, false},
		{"detach lockdown", request{action: "iam:DetachRolePolicy", resource: "arn:aws:iam::" + acct + ":role/orders-api", context: one("iam:PolicyARN", lockdownARN)}, true},
		{"forge the guardrail's write marker", request{action: "iam:TagRole", resource: "arn:aws:iam::" + acct + ":role/orders-api", context: map[string][]string{"aws:TagKeys": {"team", MarkerTagKey}}}, true},
		{"remove the guardrail's write marker", request{action: "iam:UntagRole", resource: "arn:aws:iam::" + acct + ":role/orders-api", context: one("aws:TagKeys", MarkerTagKey)}, true},
		{"create a role with the write marker", request{action: "iam:CreateRole", resource: "arn:aws:iam::" + acct + ":role/new", context: one("aws:TagKeys", MarkerTagKey)}, true},
		{"tag own role", request{action: "iam:TagRole", resource: "arn:aws:iam::" + acct + ":role/orders-api", context: one("aws:TagKeys", "team")}, false},
		{"detach other policy", request{action: "iam:DetachRolePolicy", resource: "arn:aws:iam::" + acct + ":role/orders-api", context: one("iam:PolicyARN", "arn:aws:iam::aws:policy/ReadOnlyAccess")}, false},
		{"stop logging", request{action: "cloudtrail:StopLogging", resource: "arn:aws:cloudtrail:us-east-1:" + acct + ":trail/org"}, true},
		{"stop config recorder", request{action: "config:StopConfigurationRecorder", resource: "*"}, true},
		{"guardduty trusted IP list", request{action: "guardduty:CreateIPSet", resource: "*"}, true},
		{"security hub off", request{action: "securityhub:DisableSecurityHub", resource: "*"}, true},
		{"security hub suppression rule v2", request{action: "securityhub:CreateAutomationRuleV2", resource: "*"}, true},
		{"delete analyzer", request{action: "access-analyzer:DeleteAnalyzer", resource: "*"}, true},
		{"access key", request{action: "iam:CreateAccessKey", resource: "arn:aws:iam::" + acct + ":user/x"}, true},
		{"access key, other case", request{action: "IAM:createaccesskey", resource: "arn:aws:iam::" + acct + ":user/x"}, true},
		{"saml provider", request{action: "iam:CreateSAMLProvider", resource: "*"}, true},
		{"roles anywhere anchor", request{action: "rolesanywhere:CreateTrustAnchor", resource: "*"}, true},
		{"leave organization", request{action: "organizations:LeaveOrganization", resource: "*"}, true},
		{"detach SCP", request{action: "organizations:DetachPolicy", resource: "*"}, true},
		{"close account", request{action: "account:CloseAccount", resource: "*"}, true},
		{"operator extra", request{action: "ec2:CreateVpcPeeringConnection", resource: "*"}, true},
		{"ordinary work", request{action: "s3:GetObject", resource: "arn:aws:s3:::orders/x"}, false},
		{"assume exempt CDK deploy role", request{action: "sts:AssumeRole", resource: "arn:aws:iam::" + acct + ":role/cdk-hnb659fds-deploy-role-" + acct + "-us-east-1"}, true},
		{"assume exempt role on a path", request{action: "sts:AssumeRole", resource: "arn:aws:iam::" + acct + ":role/team/cdk-hnb659fds-x"}, true},
		{"assume exempt break-glass role", request{action: "sts:AssumeRole", resource: "arn:aws:iam::" + acct + ":role/breakglass/admin"}, true},
		{"assume exempt role matched by a class", request{action: "sts:AssumeRole", resource: "arn:aws:iam::" + acct + ":role/ci-a01"}, true},
		{"assume another service role", request{action: "sts:AssumeRole", resource: "arn:aws:iam::" + acct + ":role/orders-api"}, false},
		{"pass exempt role", request{action: "iam:PassRole", resource: role("cdk-hnb659fds-cfn-exec-role-" + acct + "-us-east-1")}, true},
		{"create role matching an exemption at a path", request{action: "iam:CreateRole", resource: role("x/y/cdk-hnb659fds-backdoor")}, true},
		{"rewrite exempt role trust", request{action: "iam:UpdateAssumeRolePolicy", resource: role("breakglass/admin")}, true},
		{"inline policy on exempt role", request{action: "iam:PutRolePolicy", resource: role("ci-b99")}, true},
		{"pass application role", request{action: "iam:PassRole", resource: role("orders-worker")}, false},
		{"application resource sharing the prefix word", request{action: "lambda:UpdateFunctionCode", resource: "arn:aws:lambda:us-east-1:" + acct + ":function:IamRoleGuardrailTests"}, false},
		{"application role sharing the prefix word", request{action: "iam:PutRolePolicy", resource: role("IamRoleGuardrailDemo")}, false},
		{"guardrail stack by its exact name", request{action: "cloudformation:UpdateStack", resource: "arn:aws:cloudformation:us-east-1:" + acct + ":stack/IamRoleGuardrail/abc"}, true},
		{"remove own boundary", request{action: "iam:DeleteRolePermissionsBoundary", resource: role("orders-api")}, true},
		{"attach policy to user", request{action: "iam:AttachUserPolicy", resource: "arn:aws:iam::" + acct + ":user/alice"}, true},
		{"join group", request{action: "iam:AddUserToGroup", resource: "arn:aws:iam::" + acct + ":group/admins"}, true},
		{"disable alarm key", request{action: "kms:DisableKey", resource: "arn:aws:kms:us-east-1:" + acct + ":key/k1"}, true},
		{"use application key", request{action: "kms:Decrypt", resource: "arn:aws:kms:us-east-1:" + acct + ":key/app"}, false},
		{"trail bucket policy", request{action: "s3:PutBucketPolicy", resource: "arn:aws:s3:::trail-logs"}, true},
		{"delete trail log file", request{action: "s3:DeleteObject", resource: "arn:aws:s3:::trail-logs/AWSLogs/x.json.gz"}, true},
		{"read trail log file", request{action: "s3:GetObject", resource: "arn:aws:s3:::trail-logs/AWSLogs/x.json.gz"}, false},
		{"account log policy", request{action: "logs:PutAccountPolicy", resource: "*"}, true},
		{"describe trails", request{action: "cloudtrail:DescribeTrails", resource: "*"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := denied(t, doc, tt.req); got != tt.want {
				t.Errorf("denied(%s on %s) = %t, want %t", tt.req.action, tt.req.resource, got, tt.want)
			}
		})
	}
}

// TestDocumentIdentityTokens checks the outbound identity federation
// statements: sts:IdentityTokenAudience is multivalued (Service
// Authorization Reference, STS: ArrayOfString; a GetWebIdentityToken request
// names 1 to 10 audiences, STS API reference), so each request lists its
// audiences as separate values.
func TestDocumentIdentityTokens(t *testing.T) {
	const approved, also, unapproved = "https://api.partner.example", "api://AzureADTokenExchange", "https://collector.attacker.example"
	none := mustDocument(t, Config{Account: acct})
	listed := mustDocument(t, Config{Account: acct, AllowedTokenAudiences: []string{also, " " + approved, approved}})
	token := func(audiences ...string) request {
		r := request{action: "sts:GetWebIdentityToken", resource: "*"}
		if audiences != nil {
			r.context = map[string][]string{"sts:IdentityTokenAudience": audiences}
		}
		return r
	}
	tag := request{action: "sts:TagGetWebIdentityToken", resource: "*", context: map[string][]string{"aws:TagKeys": {"team"}}}
	tests := []struct {
		name string
		doc  []byte
		req  request
		want bool
	}{
		// No audience approved (the default): no token at all.
		{"no list: token for any audience", none, token(approved), true},
		{"no list: token without audience", none, token(), true},
		{"no list: tags on a token", none, tag, true},
		{"no list: enable outbound federation", none, request{action: "iam:EnableOutboundWebIdentityFederation", resource: "*"}, true},
		{"no list: disable outbound federation", none, request{action: "iam:DisableOutboundWebIdentityFederation", resource: "*"}, true},
		{"no list: read the federation settings", none, request{action: "iam:GetOutboundWebIdentityFederationInfo", resource: "*"}, false},
		// An allow list: every requested audience must be on it.
		{"only an approved audience", listed, token(approved), false},
		{"two approved audiences", listed, token(approved, also), false},
		{"approved and unapproved together", listed, token(approved, unapproved), true},
		{"unapproved and approved together", listed, token(unapproved, also), true},
		{"only an unapproved audience", listed, token(unapproved), true},
		{"approved audience in another case (StringNotEquals is case-sensitive)", listed, token(strings.ToUpper(approved)), true},
		{"approved audience with a trailing slash", listed, token(approved + "/"), true},
		{"no audience in the request", listed, token(), true},
		{"tags on a token (its audiences are judged on GetWebIdentityToken)", listed, tag, false},
		{"list: enable outbound federation", listed, request{action: "iam:EnableOutboundWebIdentityFederation", resource: "*"}, true},
		{"list: disable outbound federation", listed, request{action: "iam:DisableOutboundWebIdentityFederation", resource: "*"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := denied(t, tt.doc, tt.req); got != tt.want {
				t.Errorf("denied(%s %v) = %t, want %t", tt.req.action, tt.req.context, got, tt.want)
			}
		})
	}

	// The list is written once, sorted, as an array even for one value,
	// under the set operator that refuses any unlisted member.
	var cond map[string]map[string]any
	for _, st := range parse(t, listed) {
		if st.Sid == "DenyUnlistedTokenAudiences" {
			cond = st.Condition
		}
	}
	got, _ := json.Marshal(cond)
	if want := `{"ForAnyValue:StringNotEquals":{"sts:IdentityTokenAudience":["` + also + `","` + approved + `"]}}`; string(got) != want {
		t.Errorf("audience condition = %s, want %s", got, want)
	}
	for _, sid := range []string{"DenyUnlistedTokenAudiences", "DenyTokensWithoutAudience"} {
		if !bytes.Contains(listed, []byte(`"`+sid+`"`)) || bytes.Contains(none, []byte(`"`+sid+`"`)) {
			t.Errorf("%s must be in the document exactly when audiences are listed", sid)
		}
	}
	if bytes.Contains(listed, []byte(`"DenyIdentityTokens"`)) {
		t.Error("DenyIdentityTokens (deny outright) is in a document that lists audiences")
	}
}

func TestDocumentSizeLimits(t *testing.T) {
	// Largest allowed configuration: every length at its cap and the
	// extra-action budget filled exactly, with actions of maximum length.
	var extras []string
	budget := MaxExtraActionsSize
	for i := 0; budget > 0; i++ {
		n := min(MaxActionLength, budget-3)
		if n < len("s00:A") {
			break
		}
		svc := fmt.Sprintf("s%02d", i)
		extras = append(extras, svc+":"+strings.Repeat("A", n-len(svc)-1))
		budget -= n + 3
	}
	if budget != 0 {
		t.Fatalf("test setup: %d characters of budget left unused", budget)
	}
	// And the exemption budget filled exactly: globs of one length, then
	// one that takes what is left (a pattern costs 42 characters besides
	// its glob, with the longest partition).
	var exempt []string
	for i := 0; ; i++ {
		g := fmt.Sprintf("exempt-role-%02d-*", i)
		if exemptPatternsSize(append(exempt, g)) > MaxExemptPatternsSize {
			// What is left goes into a new glob, or lengthens the last.
			switch rest := MaxExemptPatternsSize - exemptPatternsSize(exempt); {
			case rest > exemptPatternsSize([]string{""}):
				exempt = append(exempt, strings.Repeat("z", rest-exemptPatternsSize([]string{""})))
			case rest > 0:
				exempt[len(exempt)-1] = "z" + strings.Repeat("z", rest) + exempt[len(exempt)-1][1:]
			}
			break
		}
		exempt = append(exempt, g)
	}
	if n := exemptPatternsSize(exempt); n != MaxExemptPatternsSize {
		t.Fatalf("test setup: exemptions take %d characters, want %d", n, MaxExemptPatternsSize)
	}
	// And the token-audience budget filled exactly.
	var audiences []string
	for i, left := 0, MaxTokenAudiencesSize; left > 0; i++ {
		n := min(100, left-3)
		audiences = append(audiences, fmt.Sprintf("%02d", i)+strings.Repeat("a", n-2))
		left -= n + 3
	}
	if n := audiencesSize(audiences); n != MaxTokenAudiencesSize {
		t.Fatalf("test setup: audiences take %d characters, want %d", n, MaxTokenAudiencesSize)
	}
	// And the bucket budget filled with maximum-length names.
	var buckets []string
	for i := 0; ; i++ {
		b := fmt.Sprintf("%02d", i) + strings.Repeat("b", 61)
		if bucketsSize(append(buckets, b)) > MaxBucketsSize {
			// The rest with one shorter name.
			for n := 61; n > 1; n-- {
				if b = fmt.Sprintf("%02d", i) + strings.Repeat("b", n); bucketsSize(append(buckets, b)) <= MaxBucketsSize {
					buckets = append(buckets, b)
					break
				}
			}
			break
		}
		buckets = append(buckets, b)
	}
	largest := Config{
		Partition:             "aws-us-gov",
		Account:               acct,
		NamePrefix:            "P" + strings.Repeat("p", MaxNamePrefixLength-1),
		PolicyName:            strings.Repeat("n", MaxPolicyNameLength),
		ExtraDeniedActions:    extras,
		ExemptRoles:           exempt,
		AlarmKeyARN:           "arn:aws-us-gov:kms:ap-southeast-7:" + acct + ":key/mrk-" + strings.Repeat("0", 32),
		ProtectedBuckets:      buckets,
		AllowedTokenAudiences: audiences,
	}
	tokens := largest
	tokens.Partition, tokens.Account = "${Token[AWS.Partition.7]}", "${Token[AWS.AccountId.8]}"
	tokens.AlarmKeyARN = "${Token[TOKEN.77]}"
	// The stack's shapes: names holding the account token, a bucket name
	// that is a token.
	tokens.ExemptRoles = []string{"cdk-hnb659fds-deploy-role-${Token[AWS.AccountId.8]}-us-east-1", "cdk-hnb659fds-cfn-exec-role-${Token[AWS.AccountId.8]}-us-east-1",
		"cdk-hnb659fds-file-publishing-role-${Token[AWS.AccountId.8]}-us-east-1", "BreakGlass", "/admin/*"}
	tokens.ProtectedBuckets = []string{"cdk-hnb659fds-assets-${Token[AWS.AccountId.8]}-us-east-1", "${Token[TOKEN.78]}", strings.Repeat("t", 63), "short-bucket"}

	for _, tt := range []struct {
		name string
		c    Config
	}{
		{"bare", Config{Account: acct}},
		{"default stack", stackConfig},
		{"largest allowed", largest},
		{"largest allowed with CDK tokens", tokens},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := mustDocument(t, tt.c)
			sized := doc
			if tt.c.Account != acct {
				sized = bytes.ReplaceAll(bytes.ReplaceAll(doc, []byte(tokens.Account), []byte(acct)),
					[]byte(tokens.Partition), []byte(sizingPartition))
				// What CloudFormation may put in place of the other tokens,
				// at its longest.
				sized = bytes.ReplaceAll(sized, []byte(tokens.AlarmKeyARN), []byte(largest.AlarmKeyARN))
				sized = bytes.ReplaceAll(sized, []byte("${Token[TOKEN.78]}"), []byte(strings.Repeat("x", 63)))
			}
			n := Size(sized)
			t.Logf("%s: %d of %d characters", tt.name, n, MaxSize)
			if n > MaxSize {
				t.Errorf("size %d exceeds %d", n, MaxSize)
			}
		})
	}

	// One more character of any kind is refused, so the caps above are
	// exactly what Document accepts.
	over := []struct {
		name  string
		field string
		c     Config
	}{
		{"budget exceeded", "ExtraDeniedActions", withExtras(largest, append(extras[:len(extras):len(extras)], "zz:A"))},
		{"exemption budget exceeded", "ExemptRoles", Config{Account: acct, ExemptRoles: append(exempt[:len(exempt):len(exempt)], "one-more-*")}},
		{"exemption of every role", "ExemptRoles", Config{Account: acct, ExemptRoles: []string{"/*"}}},
		{"audience budget exceeded", "AllowedTokenAudiences", Config{Account: acct, AllowedTokenAudiences: append(audiences[:len(audiences):len(audiences)], "x")}},
		{"audience too long", "AllowedTokenAudiences", Config{Account: acct, AllowedTokenAudiences: []string{strings.Repeat("a", MaxAudienceLength+1)}}},
		{"bucket budget exceeded", "ProtectedBuckets", Config{Account: acct, ProtectedBuckets: append(buckets[:len(buckets):len(buckets)], "one-more")}},
		{"prefix too long", "NamePrefix", Config{Account: acct, NamePrefix: largest.NamePrefix + "p"}},
		{"policy name too long", "PolicyName", Config{Account: acct, PolicyName: largest.PolicyName + "n"}},
		{"partition too long", "Partition", Config{Account: acct, Partition: "aws-us-govx"}},
		{"action too long", "ExtraDeniedActions", Config{Account: acct, ExtraDeniedActions: []string{"s3:" + strings.Repeat("A", MaxActionLength-2)}}},
	}
	for _, tt := range over {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Document(tt.c)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Errorf("Document error = %v, want *ConfigError on %s", err, tt.field)
			}
		})
	}
}

func withExtras(c Config, extras []string) Config {
	c.ExtraDeniedActions = extras
	return c
}

func TestCheckSize(t *testing.T) {
	under := []byte(`{"a":"` + strings.Repeat("x", MaxSize-8) + `"}`) // exactly MaxSize
	if n := Size(under); n != MaxSize {
		t.Fatalf("test setup: Size = %d", n)
	}
	if err := CheckSize(under); err != nil {
		t.Errorf("CheckSize(at limit) = %v", err)
	}
	overDoc := []byte(`{"a":"` + strings.Repeat("x", MaxSize-7) + `"}`)
	err := CheckSize(overDoc)
	var se *SizeError
	if !errors.As(err, &se) || se.Size != MaxSize+1 {
		t.Fatalf("CheckSize(over) = %v, want *SizeError{%d}", err, MaxSize+1)
	}
	if !strings.Contains(err.Error(), "6145") || !strings.Contains(err.Error(), "6144") {
		t.Errorf("error %q does not give size and limit", err)
	}
}

func TestSize(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{``, 0},
		{`{}`, 2},
		{" {\n\t\"a\" : [ 1 , 2 ]\r\n} ", 11},
		{`{"a b":"c d"}`, 13},    // white space inside strings counts
		{`{"a":"\" }"}`, 12},     // escaped quote does not end the string
		{`{"a":"\\"  }`, 10},     // escaped backslash does
		{`{"a":"\u0041"}`, 14},   // escapes count as written
		{`{"é":"ß€"}`, 10},       // characters, not bytes
		{"{\"a\":\"\xff\"}", 9},  // invalid UTF-8 counts one per byte
		{`{"Version":"x"} `, 15}, // trailing space
		{`["a",` + "\n  " + `"b"]`, 9},
	}
	for _, tt := range tests {
		if got := Size([]byte(tt.in)); got != tt.want {
			t.Errorf("Size(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestDocumentDeterministic(t *testing.T) {
	a := mustDocument(t, Config{Account: acct, ExtraDeniedActions: []string{"s3:PutBucketPolicy", "ram:*", "S3:putbucketpolicy", " ec2:Create* "}})
	b := mustDocument(t, Config{Account: acct, ExtraDeniedActions: []string{"ec2:Create*", "S3:putbucketpolicy", "ram:*", "s3:PutBucketPolicy", ""}})
	if !bytes.Equal(a, b) {
		t.Errorf("equal configurations built different documents:\n%s\n%s", a, b)
	}
	sts := parse(t, a)
	last := sts[len(sts)-1]
	if want := []string{"ec2:Create*", "ram:*", "S3:putbucketpolicy"}; last.Sid != "OperatorDeniedActions" || strings.Join(last.Action, ",") != strings.Join(want, ",") {
		t.Errorf("extras statement = %+v, want sorted, deduplicated %q", last, want)
	}
	x := mustDocument(t, Config{Account: acct, AllowedTokenAudiences: []string{"https://b.example", "https://a.example", "https://b.example", " "}})
	y := mustDocument(t, Config{Account: acct, AllowedTokenAudiences: []string{"https://a.example", " https://b.example "}})
	if !bytes.Equal(x, y) {
		t.Errorf("equal audience lists built different documents:\n%s\n%s", x, y)
	}
	if bytes.Contains(mustDocument(t, Config{Account: acct}), []byte("OperatorDeniedActions")) {
		t.Error("document without extras has an OperatorDeniedActions statement")
	}
}

func TestDocumentTokens(t *testing.T) {
	doc := mustDocument(t, Config{Account: "${Token[AWS.AccountId.8]}", Partition: "${Token[AWS.Partition.7]}"})
	if !bytes.Contains(doc, []byte(`"arn:${Token[AWS.Partition.7]}:iam::${Token[AWS.AccountId.8]}:policy/GuardrailLockdown"`)) {
		t.Errorf("tokens not substituted verbatim:\n%s", doc)
	}
	if bytes.Contains(doc, []byte(sizingAccount)) || bytes.Contains(doc, []byte(sizingPartition)) {
		t.Error("sizing stand-ins leaked into the document")
	}
}

func TestRolePatternsWithTokens(t *testing.T) {
	// A bootstrap role's name holds the account token; its brackets are
	// copied, not read as a character class.
	tok := "${Token[AWS.AccountId.8]}"
	got := RolePatterns("aws", tok, []string{"cdk-q-deploy-role-" + tok + "-us-east-1", "ci-[ab]?", "/break\\glass/*"})
	want := []string{"arn:aws:iam::" + tok + ":role/*cdk-q-deploy-role-" + tok + "-us-east-1",
		"arn:aws:iam::" + tok + ":role/*ci-??", "arn:aws:iam::" + tok + ":role/breakglass/*"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("RolePatterns =\n%q\nwant\n%q", got, want)
	}
}

func TestDocumentInvalid(t *testing.T) {
	tests := []struct {
		name  string
		c     Config
		field string
	}{
		{"no account", Config{}, "Account"},
		{"short account", Config{Account: "12345"}, "Account"},
		{"account ARN", Config{Account: "arn:aws:iam::111122223333:root"}, "Account"},
		{"not a token", Config{Account: "${AWS::AccountId}"}, "Account"},
		{"bad partition", Config{Account: acct, Partition: "AWS"}, "Partition"},
		{"wildcard partition", Config{Account: acct, Partition: "*"}, "Partition"},
		{"short prefix", Config{Account: acct, NamePrefix: "Iam"}, "NamePrefix"},
		{"wildcard prefix", Config{Account: acct, NamePrefix: "Guard*"}, "NamePrefix"},
		{"prefix with underscore (not a stack name)", Config{Account: acct, NamePrefix: "Guard_rail"}, "NamePrefix"},
		{"prefix starting with digit", Config{Account: acct, NamePrefix: "1Guard"}, "NamePrefix"},
		{"policy name with slash", Config{Account: acct, PolicyName: "a/b"}, "PolicyName"},
		{"deny everything", Config{Account: acct, ExtraDeniedActions: []string{"*"}}, "ExtraDeniedActions"},
		{"deny every service", Config{Account: acct, ExtraDeniedActions: []string{"*:*"}}, "ExtraDeniedActions"},
		{"no service", Config{Account: acct, ExtraDeniedActions: []string{"CreateUser"}}, "ExtraDeniedActions"},
		{"wildcard service", Config{Account: acct, ExtraDeniedActions: []string{"s*:Get*"}}, "ExtraDeniedActions"},
		{"space in action", Config{Account: acct, ExtraDeniedActions: []string{"s3:Get Object"}}, "ExtraDeniedActions"},
		{"two colons", Config{Account: acct, ExtraDeniedActions: []string{"s3:Get:Object"}}, "ExtraDeniedActions"},
		{"bucket ARN instead of name", Config{Account: acct, ProtectedBuckets: []string{"arn:aws:s3:::logs"}}, "ProtectedBuckets"},
		{"bucket name with capitals", Config{Account: acct, ProtectedBuckets: []string{"Logs"}}, "ProtectedBuckets"},
		{"bucket wildcard", Config{Account: acct, ProtectedBuckets: []string{"logs-*"}}, "ProtectedBuckets"},
		{"key alias instead of ARN", Config{Account: acct, AlarmKeyARN: "alias/alarms"}, "AlarmKeyARN"},
		{"audience wildcard", Config{Account: acct, AllowedTokenAudiences: []string{"https://*.example.com"}}, "AllowedTokenAudiences"},
		{"audience single-character wildcard", Config{Account: acct, AllowedTokenAudiences: []string{"https://api?.example.com"}}, "AllowedTokenAudiences"},
		{"audience policy variable", Config{Account: acct, AllowedTokenAudiences: []string{"https://${aws:username}.example.com"}}, "AllowedTokenAudiences"},
		{"audience with space", Config{Account: acct, AllowedTokenAudiences: []string{"my audience"}}, "AllowedTokenAudiences"},
		{"audience with quote", Config{Account: acct, AllowedTokenAudiences: []string{`a"b`}}, "AllowedTokenAudiences"},
		{"audience with comma", Config{Account: acct, AllowedTokenAudiences: []string{"a,b"}}, "AllowedTokenAudiences"},
		{"audience not ASCII", Config{Account: acct, AllowedTokenAudiences: []string{"https://bücher.example"}}, "AllowedTokenAudiences"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Document(tt.c)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("Document = %s, %v; want *ConfigError on %s", doc, err, tt.field)
			}
			if doc != nil {
				t.Error("document returned with an error")
			}
		})
	}
}

func BenchmarkDocument(b *testing.B) {
	c := Config{Account: acct, ExtraDeniedActions: []string{"ram:*", "ec2:CreateVpcPeeringConnection"}}
	for b.Loop() {
		if _, err := Document(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSize(b *testing.B) {
	doc := mustDocument(b, Config{Account: acct})
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		Size(doc)
	}
}

// TestStatements: the exported statements are the document's, in its
// order, for a plain account and for the organization-wide variable.
func TestStatements(t *testing.T) {
	for _, c := range []Config{stackConfig, {Account: PrincipalAccountVariable, ExemptRoles: []string{"BreakGlass"}}} {
		sts, err := Statements(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(struct {
			Version   string
			Statement []Statement
		}{"2012-10-17", sts})
		if err != nil {
			t.Fatal(err)
		}
		if want := mustDocument(t, c); !bytes.Equal(got, want) {
			t.Errorf("Statements differ from Document:\n got %s\nwant %s", got, want)
		}
		for _, st := range sts {
			if st.Effect != "Deny" {
				t.Errorf("%s: Effect %q", st.Sid, st.Effect)
			}
		}
	}
	if _, err := Statements(Config{Account: "${aws:username}"}); err == nil {
		t.Error("another policy variable was accepted as the account")
	}
}
