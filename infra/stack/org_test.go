//lint:file-ignore SA1019 assertions.Annotations returns cxapi.SynthesisMessage; there is no other type to use.

package stack

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/iamguardrail/guardrail/infra/settings"
	"github.com/iamguardrail/guardrail/pkg/classify"
	"github.com/iamguardrail/guardrail/pkg/cloudtrail"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/hub"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/perimeter"
	"github.com/iamguardrail/guardrail/pkg/policy"
	"github.com/iamguardrail/guardrail/pkg/publish"
)

// The organization of the tests: the hub account differs from the account
// the resolver gives every member template (testAccount), so a test can
// tell which account an ARN names.
const (
	testOrgID      = "o-a1b2c3d4e5"
	testHubAccount = "111122223333"
)

// orgSynth is one synthesized organization deployment: the hub, the
// members' StackSet stack and the member template.
type orgSynth struct {
	hub, members, member synthesized
	body                 string
	// memberOutdir is where the member app was synthesized.
	memberOutdir string
}

func synthOrg(t *testing.T, org map[string]any, extra map[string]any) orgSynth {
	t.Helper()
	ctx := maps(extra, map[string]any{settings.KeyDistDir: distDir(t), settings.KeyOrganization: org})
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(sharedTempDir(t))})
	s, err := ContextSettings(app)
	if err != nil {
		t.Fatalf("ContextSettings: %v", err)
	}
	hub, err := NewHub(app, Props{Settings: s, Region: RequiredRegion})
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	outdir := sharedTempDir(t)
	m, err := NewMembers(app, MembersProps{Props: Props{Settings: s, Region: RequiredRegion}, TemplateOutdir: outdir})
	if err != nil {
		t.Fatalf("NewMembers: %v", err)
	}
	AddChecks(app)
	syn := func(st awscdk.Stack) synthesized {
		tpl := assertions.Template_FromStack(st, nil)
		return synthesized{stack: st, template: tpl, json: *tpl.ToJSON()}
	}
	return orgSynth{hub: syn(hub), members: syn(m.Stack), member: syn(m.Template), body: m.Body, memberOutdir: outdir}
}

var (
	orgOnce, orgAllOnce sync.Once
	orgStacks, orgAll   orgSynth
)

var testOrg = map[string]any{
	"organizationId": testOrgID, "hubAccount": testHubAccount, "memberOUs": []any{"ou-ab12-cd34ef56", "ou-ab12-zz99yy88"},
}

// orgDefault is the organization with two OUs, deployed from the
// management account, and the single-account defaults.
func orgDefault(t *testing.T) orgSynth {
	orgOnce.Do(func() { orgStacks = synthOrg(t, testOrg, nil) })
	if orgStacks.hub.stack == nil {
		t.Fatal("organization stacks failed to synthesize")
	}
	return orgStacks
}

// orgConfigured is the whole organization from a delegated administrator,
// with overrides and the fully configured single-account settings.
func orgConfigured(t *testing.T) orgSynth {
	orgAllOnce.Do(func() {
		orgAll = synthOrg(t, map[string]any{
			"organizationId": testOrgID, "hubAccount": testHubAccount, "memberOUs": "all", "rootId": "r-ab12",
			"deployFrom": "delegatedAdmin", "trustedOrgIds": []any{"o-zzzzzzzzzz"}, "memberAccounts": []any{"444455556666"},
		}, fullContext)
	})
	if orgAll.hub.stack == nil {
		t.Fatal("configured organization stacks failed to synthesize")
	}
	return orgAll
}

func TestOrgNoUnsuppressedNagFindings(t *testing.T) {
	for _, o := range []orgSynth{orgDefault(t), orgConfigured(t)} {
		for name, s := range map[string]synthesized{"hub": o.hub, "members": o.members, "member template": o.member} {
			for _, msgs := range []*[]*cxapi.SynthesisMessage{
				assertions.Annotations_FromStack(s.stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))),
				assertions.Annotations_FromStack(s.stack).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))),
			} {
				for _, m := range *msgs {
					t.Errorf("%s: unsuppressed cdk-nag finding at %s: %v", name, *m.Id, m.Entry.Data)
				}
			}
		}
	}
}

// TestOrgNagChecksMemberTemplate proves the checks ran on the member
// template in its own app: cdk-nag's report for the member stack lists the
// member role's wildcard findings as suppressed, with the written reason.
func TestOrgNagChecksMemberTemplate(t *testing.T) {
	o := orgDefault(t)
	reports, _ := filepath.Glob(filepath.Join(o.memberOutdir, "AwsSolutions-*"+MemberTemplateID+"-NagReport.csv"))
	if len(reports) != 1 {
		reports = append(reports, "no single report")
	}
	data, err := os.ReadFile(reports[0])
	if err != nil {
		entries, _ := os.ReadDir(o.memberOutdir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("no cdk-nag report for the member template: %v (outdir holds %v)", err, names)
	}
	var suppressed, compliant int
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "AwsSolutions-IAM5") && strings.Contains(line, "MemberRole") && strings.Contains(line, "Suppressed") {
			suppressed++
		}
		if strings.Contains(line, "Compliant") {
			compliant++
		}
	}
	if suppressed == 0 || compliant == 0 {
		t.Errorf("member template report: %d suppressed IAM5 findings on the member role, %d compliant rows; want both:\n%s", suppressed, compliant, data)
	}
}

func TestOrgStackNames(t *testing.T) {
	o := orgDefault(t)
	for _, tc := range []struct {
		s        synthesized
		id, name string
		account  string
	}{
		{o.hub, HubStackID, HubStackName, testHubAccount},
		{o.members, MembersStackID, MembersStackName, ""},
	} {
		if got := *tc.s.stack.StackName(); got != tc.name || !strings.HasPrefix(got, NamePrefix+"-") {
			t.Errorf("%s: stack name %q, want %q (covered by the lockdown's %s-* pattern)", tc.id, got, tc.name, NamePrefix)
		}
		if got := *tc.s.stack.ArtifactId(); got != tc.id {
			t.Errorf("artifact %q, want %q", got, tc.id)
		}
		if got := *tc.s.stack.Region(); got != RequiredRegion {
			t.Errorf("%s: region %q", tc.id, got)
		}
		if tc.account != "" && *tc.s.stack.Account() != tc.account {
			t.Errorf("%s: account %q, want %q", tc.id, *tc.s.stack.Account(), tc.account)
		}
	}
}

// TestHubBusPolicy: the hub bus accepts PutEvents from the organization's
// accounts and nothing else.
func TestHubBusPolicy(t *testing.T) {
	for _, o := range []orgSynth{orgDefault(t), orgConfigured(t)} {
		busID, _ := o.hub.byName(t, "AWS::Events::EventBus", "Name", HubBusName)
		policies := o.hub.resources("AWS::Events::EventBusPolicy")
		if len(policies) != 1 {
			t.Fatalf("%d event bus policies, want 1", len(policies))
		}
		for _, p := range policies {
			props := p["Properties"].(map[string]any)
			if !jsonEqual(t, props["EventBusName"], ref(busID)) {
				t.Errorf("policy on %v, want the hub bus", props["EventBusName"])
			}
			for _, k := range []string{"Action", "Principal", "Condition"} {
				if props[k] != nil {
					t.Errorf("policy sets the single-grant property %s: %v", k, props[k])
				}
			}
			want := map[string]any{
				"Action":    "events:PutEvents",
				"Condition": map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": testOrgID}},
				"Effect":    "Allow",
				"Principal": "*",
				"Resource":  getAtt(busID, "Arn"),
				"Sid":       props["StatementId"],
			}
			if !jsonEqual(t, props["Statement"], want) {
				got, _ := json.Marshal(props["Statement"])
				t.Errorf("bus policy statement = %s, want PutEvents for aws:PrincipalOrgID %s only", got, testOrgID)
			}
		}
	}
}

// TestHubRoles: the hub functions touch IAM only by assuming the member
// role, in the organization's accounts, and read the organization.
func TestHubRoles(t *testing.T) {
	memberRoles := map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":iam::*:role/" + MemberRoleName}}}
	for _, tc := range []struct {
		role    string
		orgRead []string
	}{
		{HubEnforcerName, []string{"organizations:DescribeOrganization", "organizations:DescribeAccount"}},
		{HubSweeperName, []string{"organizations:DescribeOrganization", "organizations:ListAccounts"}},
	} {
		var sids []string
		for _, st := range orgDefault(t).hub.statements(t, tc.role) {
			sid, _ := st["Sid"].(string)
			sids = append(sids, sid)
			for _, a := range strs(st["Action"]) {
				if strings.HasPrefix(a, "iam:") {
					t.Errorf("%s: hub role holds %s; IAM work goes through the member role", tc.role, a)
				}
				if a == "sts:AssumeRole" && sid != "AssumeMemberRole" {
					t.Errorf("%s: sts:AssumeRole outside AssumeMemberRole", tc.role)
				}
			}
			switch sid {
			case "AssumeMemberRole":
				if !slices.Equal(strs(st["Action"]), []string{"sts:AssumeRole"}) || !jsonEqual(t, st["Resource"], memberRoles) ||
					!jsonEqual(t, st["Condition"], map[string]any{"StringEquals": map[string]any{"aws:ResourceOrgID": testOrgID}}) {
					got, _ := json.Marshal(st)
					t.Errorf("%s: AssumeMemberRole = %s", tc.role, got)
				}
			case "ReadOrganization":
				if !slices.Equal(strs(st["Action"]), tc.orgRead) {
					t.Errorf("%s: ReadOrganization actions = %v, want %v", tc.role, strs(st["Action"]), tc.orgRead)
				}
			}
		}
		if !slices.Contains(sids, "AssumeMemberRole") || !slices.Contains(sids, "ReadOrganization") || !slices.Contains(sids, "WriteOwnLogs") {
			t.Errorf("%s: statements %v", tc.role, sids)
		}
	}
}

// hubEnv returns a hub function's environment, CloudFormation values
// filled in.
func hubEnv(t *testing.T, o orgSynth, function string) map[string]string {
	t.Helper()
	_, props := o.hub.byName(t, "AWS::Lambda::Function", "FunctionName", function)
	env := props["Environment"].(map[string]any)["Variables"].(map[string]any)
	out := map[string]string{}
	for k, v := range newResolver(t, o.hub).resolve(env).(map[string]any) {
		out[k] = v.(string)
	}
	return out
}

func TestHubEnvironment(t *testing.T) {
	for _, tc := range []struct {
		o                 orgSynth
		trusted, accounts string
		mode              config.Mode
	}{
		{orgDefault(t), "", "", config.Enforce},
		{orgConfigured(t), "o-zzzzzzzzzz", "444455556666", config.Check},
	} {
		for _, fn := range []string{HubEnforcerName, HubSweeperName} {
			env := hubEnv(t, tc.o, fn)
			if env[config.EnvMemberRoleName] != MemberRoleName {
				t.Errorf("%s: %s = %q, want %q (hub mode)", fn, config.EnvMemberRoleName, env[config.EnvMemberRoleName], MemberRoleName)
			}
			if env[config.EnvTrustedOrgIDs] != tc.trusted || env[config.EnvMemberAccounts] != tc.accounts {
				t.Errorf("%s: trusted orgs %q, member accounts %q; want %q, %q", fn, env[config.EnvTrustedOrgIDs], env[config.EnvMemberAccounts], tc.trusted, tc.accounts)
			}
			// The hub's enforcer re-checks through its own queue (recheck.go).
			if got, want := env[config.EnvRecheckQueueURL], "/"+HubPrefix+"-Recheck"; (fn == HubEnforcerName) != strings.HasSuffix(got, want) {
				t.Errorf("%s: %s = %q", fn, config.EnvRecheckQueueURL, got)
			}
			// The variables the engine reads today must still parse.
			c, err := config.FromEnv(func(k string) string { return env[k] })
			if err != nil {
				t.Fatalf("%s: config.FromEnv: %v", fn, err)
			}
			if c.TrustMode != tc.mode {
				t.Errorf("%s: trust mode %s, want %s", fn, c.TrustMode, tc.mode)
			}
			if want := "arn:aws:iam::" + testHubAccount + ":policy/" + lockdown.PolicyName; c.LockdownPolicyARN != want {
				t.Errorf("%s: lockdown policy %q, want %q", fn, c.LockdownPolicyARN, want)
			}
			hubRoles := []string{"arn:aws:iam::" + testHubAccount + ":role/" + HubEnforcerName, "arn:aws:iam::" + testHubAccount + ":role/" + HubSweeperName}
			if !slices.Equal(c.ProtectedRoleARNs, hubRoles) {
				t.Errorf("%s: protected roles %v, want exactly the hub's %v", fn, c.ProtectedRoleARNs, hubRoles)
			}
			// In a member account, as the engine configures it, the
			// template's roles are never evaluated as service roles.
			m := c.Member(testAccount, testOrgID)
			rules := classify.Rules{ProtectedRoleARNs: m.ProtectedRoleARNs, ExemptRoles: m.ExemptRoles}
			for name, want := range map[string]classify.Class{MemberRoleName: classify.Guardrail, ForwarderRoleName: classify.Exempt, "orders-api": classify.Service} {
				if got := classify.Classify(classify.Role{ARN: "arn:aws:iam::" + testAccount + ":role/" + name}, rules); got.Class != want {
					t.Errorf("%s: member role %s classified %s (%s), want %s", fn, name, got.Class, got.Reason, want)
				}
			}
			if !slices.Equal(m.HubRoleARNs, hubRoles) {
				t.Errorf("%s: the engine accepts %v in the member role's trust, want exactly %v", fn, m.HubRoleARNs, hubRoles)
			}
		}
	}
}

// TestHubRebuildsMemberLockdown: the hub functions' lockdown inputs, with
// the member's account substituted as the engine does in hub mode, rebuild
// exactly the document the member template deploys, so they can restore it
// there.
func TestHubRebuildsMemberLockdown(t *testing.T) {
	for name, o := range map[string]orgSynth{"default": orgDefault(t), "configured": orgConfigured(t)} {
		_, props := o.member.byName(t, "AWS::IAM::ManagedPolicy", "ManagedPolicyName", lockdown.PolicyName)
		deployed, err := json.Marshal(newResolver(t, o.member).resolve(props["PolicyDocument"]))
		if err != nil {
			t.Fatal(err)
		}
		want, err := policy.Parse(deployed)
		if err != nil {
			t.Fatalf("%s: deployed lockdown: %v", name, err)
		}
		for _, fn := range []string{HubEnforcerName, HubSweeperName} {
			env := hubEnv(t, o, fn)
			c, err := config.FromEnv(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			lc, err := guardrail.LockdownConfig(c)
			if err != nil {
				t.Fatal(err)
			}
			if lc.Account != testHubAccount {
				t.Errorf("%s %s: lockdown account %q before substitution, want the hub's", name, fn, lc.Account)
			}
			lc.Account = testAccount
			raw, err := lockdown.Document(lc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := policy.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !policy.Equivalent(got, want) {
				t.Errorf("%s %s: the hub rebuilds\n%s\nthe member template deploys\n%s", name, fn, raw, deployed)
			}
		}
	}
}

func TestHubRule(t *testing.T) {
	o := orgDefault(t)
	busID, _ := o.hub.byName(t, "AWS::Events::EventBus", "Name", HubBusName)
	_, props := o.hub.byName(t, "AWS::Events::Rule", "Name", HubPrefix+"-RoleChanges")
	if !jsonEqual(t, props["EventBusName"], ref(busID)) {
		t.Errorf("hub rule on bus %v, want the hub bus", props["EventBusName"])
	}
	want := map[string]any{
		"detail":      HubEventPatternDetail(),
		"detail-type": []any{cloudtrail.DetailType},
		"source":      []any{cloudtrail.Source},
	}
	if !jsonEqual(t, props["EventPattern"], want) {
		t.Errorf("hub rule pattern = %v", props["EventPattern"])
	}
	fnID, _ := o.hub.byName(t, "AWS::Lambda::Function", "FunctionName", HubEnforcerName)
	targets := props["Targets"].([]any)
	if len(targets) != 1 || !jsonEqual(t, targets[0].(map[string]any)["Arn"], getAtt(fnID, "Arn")) {
		t.Errorf("hub rule targets = %v, want the hub enforcer", targets)
	}
}

// TestHubPatternOnCorpus checks the hub rule's pattern, which matches by
// suffix in any account, over the corpus like the single-account rule.
func TestHubPatternOnCorpus(t *testing.T) {
	pattern := map[string]any{
		"source":      []any{cloudtrail.Source},
		"detail-type": []any{cloudtrail.DetailType},
		"detail":      clone(t, HubEventPatternDetail()),
	}
	own := []string{"arn:aws:iam::" + testAccount + ":role/" + MemberRoleName, "arn:aws-us-gov:iam::444455556666:role/" + MemberRoleName}
	checkPatternOnCorpus(t, pattern, own, "arn:aws:iam::"+testAccount+":policy/"+lockdown.PolicyName)
	// A role of the same name under a path is not the member role.
	ev := map[string]any{"source": cloudtrail.Source, "detail-type": cloudtrail.DetailType, "detail": map[string]any{
		"eventSource": cloudtrail.EventSource, "eventName": "UpdateAssumeRolePolicy",
		"userIdentity": map[string]any{"type": "AssumedRole", "sessionContext": map[string]any{"sessionIssuer": map[string]any{
			"arn": "arn:aws:iam::" + testAccount + ":role/app/" + MemberRoleName}}},
	}}
	if !match(t, pattern, ev) {
		t.Error("a role named like the member role under another path was excluded")
	}
}

func TestMatcherSuffix(t *testing.T) {
	pattern := map[string]any{"a": []any{map[string]any{"suffix": "-x"}}, "b": []any{map[string]any{"anything-but": map[string]any{"suffix": "-y"}}}}
	for _, tc := range []struct {
		event string
		want  bool
	}{
		{`{"a":"1-x","b":"2"}`, true},
		{`{"a":"1-x","b":"2-y"}`, false},
		{`{"a":"1-z","b":"2"}`, false},
		{`{"a":"1-x"}`, false},
	} {
		var ev map[string]any
		if err := json.Unmarshal([]byte(tc.event), &ev); err != nil {
			t.Fatal(err)
		}
		if got := match(t, pattern, ev); got != tc.want {
			t.Errorf("%s: match = %v, want %v", tc.event, got, tc.want)
		}
	}
}

// TestStackSet: service-managed, automatic deployment (stacks removed with
// the account), us-east-1, the configured targets, the member template.
func TestStackSet(t *testing.T) {
	for _, tc := range []struct {
		o       orgSynth
		callAs  string
		targets []string
	}{
		{orgDefault(t), "SELF", []string{"ou-ab12-cd34ef56", "ou-ab12-zz99yy88"}},
		{orgConfigured(t), "DELEGATED_ADMIN", []string{"r-ab12"}},
	} {
		sets := tc.o.members.resources("AWS::CloudFormation::StackSet")
		if len(sets) != 1 || len(tc.o.members.json["Resources"].(map[string]any)) != 1 {
			t.Fatalf("members stack resources = %v, want only the StackSet", tc.o.members.json["Resources"])
		}
		for _, ss := range sets {
			p := ss["Properties"].(map[string]any)
			want := map[string]any{
				"StackSetName":    StackSetName,
				"PermissionModel": "SERVICE_MANAGED",
				"CallAs":          tc.callAs,
				"AutoDeployment":  map[string]any{"Enabled": true, "RetainStacksOnAccountRemoval": false},
				"Capabilities":    []any{"CAPABILITY_NAMED_IAM"},
				"StackInstancesGroup": []any{map[string]any{
					"DeploymentTargets": map[string]any{"OrganizationalUnitIds": tc.targets},
					"Regions":           []any{RequiredRegion},
				}},
			}
			for k, v := range want {
				if !jsonEqual(t, p[k], v) {
					t.Errorf("StackSet %s = %v, want %v", k, p[k], v)
				}
			}
			body, _ := p["TemplateBody"].(string)
			if body != tc.o.body || len(body) == 0 || len(body) > MaxTemplateBody {
				t.Errorf("TemplateBody: %d bytes, want the member template within %d", len(body), MaxTemplateBody)
			}
			if p["TemplateURL"] != nil || p["Parameters"] != nil {
				t.Errorf("StackSet has a TemplateURL or parameters: %v", p)
			}
			var tpl map[string]any
			if err := json.Unmarshal([]byte(body), &tpl); err != nil {
				t.Fatalf("TemplateBody is not JSON: %v", err)
			}
			if !jsonEqual(t, tpl, tc.o.member.json) {
				t.Error("TemplateBody differs from the synthesized member template")
			}
			t.Logf("member template: %d bytes of %d", len(body), MaxTemplateBody)
		}
	}
}

// TestMemberTemplateHasNoAssets: nothing in the member template needs the
// CDK bootstrap (no asset bucket, no bootstrap version) or a parameter.
func TestMemberTemplateHasNoAssets(t *testing.T) {
	for _, o := range []orgSynth{orgDefault(t), orgConfigured(t)} {
		tpl := o.member.json
		for _, k := range []string{"Parameters", "Rules", "Conditions", "Mappings"} {
			if tpl[k] != nil {
				t.Errorf("member template has %s: %v", k, tpl[k])
			}
		}
		types := map[string]int{}
		for id, r := range tpl["Resources"].(map[string]any) {
			res := r.(map[string]any)
			types[res["Type"].(string)]++
			if md, ok := res["Metadata"].(map[string]any); ok {
				for k := range md {
					if k != "cdk_nag" {
						t.Errorf("%s: metadata %q", id, k)
					}
				}
			}
		}
		want := map[string]int{"AWS::IAM::ManagedPolicy": 1, "AWS::IAM::Role": 2, "AWS::IAM::Policy": 1, "AWS::Events::Rule": 1}
		if !reflect.DeepEqual(types, want) {
			t.Errorf("member template resources = %v, want %v", types, want)
		}
		for _, s := range []string{"aws:asset", "AssetParameters", "S3Key", "S3Bucket", "ImageUri", "TemplateURL", "BootstrapVersion",
			"cdk-" + settings.DefaultBootstrapQualifier + "-assets-${", "Fn::Sub"} {
			if strings.Contains(o.body, s) {
				t.Errorf("member template contains %q", s)
			}
		}
	}
	// The synthesizer refuses assets outright.
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(sharedTempDir(t))})
	st := awscdk.NewStack(app, jsii.String("X"), &awscdk.StackProps{Synthesizer: awscdk.NewBootstraplessSynthesizer(&awscdk.BootstraplessSynthesizerProps{})})
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the bootstrapless synthesizer accepted a file asset")
			}
		}()
		st.Synthesizer().AddFileAsset(&awscdk.FileAssetSource{FileName: jsii.String(distDir(t)), SourceHash: jsii.String("x"), Packaging: awscdk.FileAssetPackaging_ZIP_DIRECTORY})
	}()
}

// memberRoleARN is the member role in the resolver's member account.
var memberRoleARN = "arn:aws:iam::" + testAccount + ":role/" + MemberRoleName

// TestMemberRoleTrust: the member role trusts exactly the hub's two
// function roles, by ARN, and they are the roles the hub deploys.
func TestMemberRoleTrust(t *testing.T) {
	for _, o := range []orgSynth{orgDefault(t), orgConfigured(t)} {
		_, props := o.member.byName(t, "AWS::IAM::Role", "RoleName", MemberRoleName)
		doc := newResolver(t, o.member).resolve(props["AssumeRolePolicyDocument"]).(map[string]any)
		var principals []string
		for _, s := range doc["Statement"].([]any) {
			st := s.(map[string]any)
			if st["Effect"] != "Allow" || st["Action"] != "sts:AssumeRole" || st["Condition"] != nil {
				t.Errorf("trust statement %v", st)
			}
			p := st["Principal"].(map[string]any)
			if len(p) != 1 {
				t.Errorf("trust principal %v: want AWS role ARNs only", p)
			}
			principals = append(principals, strs(p["AWS"])...)
		}
		slices.Sort(principals)
		want := []string{"arn:aws:iam::" + testHubAccount + ":role/" + HubEnforcerName, "arn:aws:iam::" + testHubAccount + ":role/" + HubSweeperName}
		if !slices.Equal(principals, want) {
			t.Errorf("member role trusts %v, want exactly %v", principals, want)
		}
		// The hub's roles carry exactly those names.
		var hubRoles []string
		for _, r := range o.hub.resources("AWS::IAM::Role") {
			if n, ok := r["Properties"].(map[string]any)["RoleName"].(string); ok {
				hubRoles = append(hubRoles, "arn:aws:iam::"+testHubAccount+":role/"+n)
			}
		}
		slices.Sort(hubRoles)
		if !slices.Equal(hubRoles, want) {
			t.Errorf("hub roles %v, member trusts %v", hubRoles, want)
		}
	}
}

// TestMemberRolePermissions: the member role holds the single-account
// sweeper role's permissions (which include the enforcer's) except its
// logs and its decision events (the hub's functions publish, notify.go),
// in the member's account.
func TestMemberRolePermissions(t *testing.T) {
	type stmt struct {
		Effect           string
		Action, Resource []string
		Condition        any
	}
	norm := func(s synthesized, sts []map[string]any) map[string]stmt {
		r := newResolver(t, s)
		out := map[string]stmt{}
		for _, st := range sts {
			sid, ok := st["Sid"].(string)
			if !ok {
				// The single-account functions' queue and invoke grants,
				// which the member role has no use for.
				continue
			}
			out[sid] = stmt{Effect: st["Effect"].(string), Action: strs(st["Action"]), Resource: strs(r.resolve(st["Resource"])), Condition: r.resolve(st["Condition"])}
		}
		return out
	}
	single := norm(defaults(t), defaults(t).statements(t, SweeperName))
	delete(single, "WriteOwnLogs")
	delete(single, "PutDecisionEvents")
	o := orgDefault(t)
	member := norm(o.member, o.member.statements(t, MemberRoleName))
	if len(single) != len(member) {
		t.Errorf("member role has %d statements, the single-account sweeper %d besides its logs", len(member), len(single))
	}
	for sid, want := range single {
		got, ok := member[sid]
		if !ok {
			t.Errorf("member role lacks %s", sid)
			continue
		}
		if sid == "NeverTouchProtectedRoles" {
			// The exemptions are the forwarder role, then the hub
			// account's bootstrap roles.
			want.Resource = slices.Clone(want.Resource)
			for i := range want.Resource {
				want.Resource[i] = strings.Replace(want.Resource[i], "-role-"+testAccount+"-", "-role-"+testHubAccount+"-", 1)
			}
			want.Resource = slices.Insert(want.Resource, 3, "arn:aws:iam::"+testAccount+":role/*"+ForwarderRoleName)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: member %+v, single-account %+v", sid, got, want)
		}
	}
}

// TestMemberRule: the forwarding rule on the default bus sends the
// single-account pattern, minus the member role's own sessions, to the hub
// bus through the forwarder role, which may put events on that bus only.
func TestMemberRule(t *testing.T) {
	o := orgDefault(t)
	r := newResolver(t, o.member)
	_, props := o.member.byName(t, "AWS::Events::Rule", "Name", MemberRuleName)
	if props["EventBusName"] != nil || props["State"] != "ENABLED" {
		t.Errorf("member rule on bus %v, state %v: want the default bus, enabled", props["EventBusName"], props["State"])
	}
	hubBus := "arn:aws:events:" + RequiredRegion + ":" + testHubAccount + ":event-bus/" + HubBusName
	targets := props["Targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("targets %v", targets)
	}
	tg := r.resolve(targets[0]).(map[string]any)
	if tg["Arn"] != hubBus || tg["RoleArn"] != "arn:aws:iam::"+testAccount+":role/"+ForwarderRoleName {
		t.Errorf("target = %v, want the hub bus through the forwarder role", tg)
	}
	_, fw := o.member.byName(t, "AWS::IAM::Role", "RoleName", ForwarderRoleName)
	if !jsonEqual(t, fw["AssumeRolePolicyDocument"].(map[string]any)["Statement"], []any{map[string]any{
		"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "events.amazonaws.com"}}}) {
		t.Errorf("forwarder trust = %v", fw["AssumeRolePolicyDocument"])
	}
	var actions []string
	for _, p := range o.member.resources("AWS::IAM::Policy") {
		doc := r.resolve(p["Properties"].(map[string]any)["PolicyDocument"]).(map[string]any)
		for _, s := range doc["Statement"].([]any) {
			st := s.(map[string]any)
			actions = append(actions, strs(st["Action"])...)
			if !slices.Equal(strs(st["Resource"]), []string{hubBus}) || st["Effect"] != "Allow" {
				t.Errorf("forwarder statement %v: want PutEvents on the hub bus only", st)
			}
		}
	}
	if !slices.Equal(actions, []string{"events:PutEvents"}) {
		t.Errorf("forwarder actions %v", actions)
	}
}

// TestMemberRulePatternOnCorpus: the member rule's pattern, with the
// template's references resolved in a member account, matches the corpus
// records exactly as the single-account rule does with the member role as
// the only own role.
func TestMemberRulePatternOnCorpus(t *testing.T) {
	o := orgDefault(t)
	_, props := o.member.byName(t, "AWS::Events::Rule", "Name", MemberRuleName)
	pattern := newResolver(t, o.member).resolve(props["EventPattern"]).(map[string]any)
	lockdownARN := "arn:aws:iam::" + testAccount + ":policy/" + lockdown.PolicyName
	checkPatternOnCorpus(t, pattern, []string{memberRoleARN}, lockdownARN)
	if want := EventPatternDetail([]string{memberRoleARN}, lockdownARN); !jsonEqual(t, pattern["detail"], want) {
		t.Errorf("member pattern detail = %v, want the single-account detail with the member role", pattern["detail"])
	}
	// Exactly the member role: the hub's own roles and the single-account
	// functions' roles in the member account are not excluded.
	for _, arn := range []string{
		"arn:aws:iam::" + testHubAccount + ":role/" + HubEnforcerName,
		"arn:aws:iam::" + testAccount + ":role/" + EnforcerName,
		"arn:aws:iam::" + testAccount + ":role/" + MemberRoleName + "2",
	} {
		ev := map[string]any{"source": cloudtrail.Source, "detail-type": cloudtrail.DetailType, "detail": map[string]any{
			"eventSource": cloudtrail.EventSource, "eventName": "UpdateAssumeRolePolicy",
			"userIdentity": map[string]any{"type": "AssumedRole", "sessionContext": map[string]any{"sessionIssuer": map[string]any{"arn": arn}}},
		}}
		if !match(t, pattern, ev) {
			t.Errorf("a session of %s was excluded; only the member role's may be", arn)
		}
	}
}

func TestOrgErrors(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(sharedTempDir(t))})
	s := settings.Default()
	s.DistDir = distDir(t)
	if _, err := NewHub(app, Props{Settings: s, Region: RequiredRegion}); !errors.Is(err, ErrNoOrganization) {
		t.Errorf("NewHub without organization: %v", err)
	}
	if _, err := NewMembers(app, MembersProps{Props: Props{Settings: s, Region: RequiredRegion}}); !errors.Is(err, ErrNoOrganization) {
		t.Errorf("NewMembers without organization: %v", err)
	}
	s.Organization = &settings.Organization{ID: testOrgID, HubAccount: testHubAccount, Targets: []string{"r-ab12"}, CallAs: settings.CallAsSelf}
	var re *RegionError
	if _, err := NewHub(app, Props{Settings: s, Region: "eu-west-1"}); !errors.As(err, &re) {
		t.Errorf("NewHub in eu-west-1: %v", err)
	}
	if _, err := NewMembers(app, MembersProps{Props: Props{Settings: s, Region: "eu-west-1"}}); !errors.As(err, &re) {
		t.Errorf("NewMembers in eu-west-1: %v", err)
	}
	s.DistDir = sharedTempDir(t)
	if _, err := NewHub(app, Props{Settings: s, Region: RequiredRegion}); !errors.Is(err, ErrMissingBuild) {
		t.Errorf("NewHub without the function packages: %v", err)
	}
	// The members need no function packages.
	if _, err := NewMembers(app, MembersProps{Props: Props{Settings: s, Region: RequiredRegion}}); err != nil {
		t.Errorf("NewMembers without function packages: %v", err)
	}
}

func TestTemplateBodyLimit(t *testing.T) {
	for _, tc := range []struct {
		n    int
		fits bool
	}{{MaxTemplateBody - len(`{"Description":""}`), true}, {MaxTemplateBody - len(`{"Description":""}`) + 1, false}} {
		body, err := templateBody(map[string]any{"Description": strings.Repeat("x", tc.n)})
		if (err == nil) != tc.fits {
			t.Errorf("%d-byte template: err = %v, want fits = %v", len(body), err, tc.fits)
		}
		if tc.fits && len(body) != MaxTemplateBody {
			t.Errorf("body is %d bytes, want exactly %d", len(body), MaxTemplateBody)
		}
	}
}

// TestOrgResourceNamesShareThePrefix: as in the single-account stack, every
// physical name of the hub and the member template carries the prefix the
// lockdown protects.
func TestOrgResourceNamesShareThePrefix(t *testing.T) {
	nameProps := map[string]string{
		"AWS::Lambda::Function": "FunctionName", "AWS::IAM::Role": "RoleName", "AWS::Events::Rule": "Name",
		"AWS::SQS::Queue": "QueueName", "AWS::SNS::Topic": "TopicName", "AWS::CloudWatch::Alarm": "AlarmName",
		"AWS::Logs::LogGroup": "LogGroupName", "AWS::Events::EventBus": "Name", "AWS::CloudFormation::StackSet": "StackSetName",
	}
	o := orgConfigured(t)
	for _, s := range []synthesized{o.hub, o.members, o.member} {
		for typ, prop := range nameProps {
			for id, r := range s.resources(typ) {
				name, ok := r["Properties"].(map[string]any)[prop].(string)
				if !ok || !(strings.HasPrefix(name, NamePrefix+"-") || strings.HasPrefix(name, "/aws/lambda/"+NamePrefix+"-")) {
					t.Errorf("%s %s has name %v without the %s- prefix", typ, id, r["Properties"].(map[string]any)[prop], NamePrefix)
				}
			}
		}
	}
}

// TestFindingsGate: the check MemberTemplate applies to its own app sees
// cdk-nag's findings (here a queue without TLS enforcement or a
// dead-letter queue) and none on a stack without them.
func TestFindingsGate(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(sharedTempDir(t))})
	bad := awscdk.NewStack(app, jsii.String("Bad"), &awscdk.StackProps{Synthesizer: awscdk.NewBootstraplessSynthesizer(&awscdk.BootstraplessSynthesizerProps{})})
	awssqs.NewQueue(bad, jsii.String("Q"), &awssqs.QueueProps{})
	good := awscdk.NewStack(app, jsii.String("Good"), &awscdk.StackProps{Synthesizer: awscdk.NewBootstraplessSynthesizer(&awscdk.BootstraplessSynthesizerProps{})})
	awscdk.NewCfnOutput(good, jsii.String("O"), &awscdk.CfnOutputProps{Value: jsii.String("x")})
	AddChecks(app)
	asm := app.Synth(nil)
	got := findings(asm.GetStackArtifact(bad.ArtifactId()))
	if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), "AwsSolutions-SQS") {
		t.Errorf("findings of a bare queue = %v, want AwsSolutions-SQS*", got)
	}
	if got := findings(asm.GetStackArtifact(good.ArtifactId())); len(got) != 0 {
		t.Errorf("findings of an empty stack = %v", got)
	}
}

// TestSweeperRendersWhatTheHubDeploys: from its own environment, as
// config.FromEnv reads it, the hub's sweeper renders exactly the
// organization policies the hub stack deploys (hub.PerimeterDocuments and
// PreventionDocuments, byte for byte, and the template's
// AWS::Organizations::Policy contents and targets), so that a drift it
// reports is a real difference and an unchanged deployment reports none
// (issue 18, item 6). It also holds the reads it needs, and only with
// prevention enforce.
func TestSweeperRendersWhatTheHubDeploys(t *testing.T) {
	configured := map[string]any{"organizationId": testOrgID, "hubAccount": testHubAccount, "memberOUs": "all", "rootId": "r-ab12",
		"trustedOrgIds": []any{testOrgID, "o-zzzzzzzzzz"}}
	for _, tc := range []struct {
		name       string
		org, extra map[string]any
	}{
		{"two OUs, defaults", testOrg, map[string]any{settings.KeyPrevention: settings.PreventionEnforce}},
		{"all, configured", configured, maps(fullContext, map[string]any{settings.KeyPrevention: settings.PreventionEnforce,
			"trustedAudiences": []any{"us-east-1:11111111-2222-3333-4444-555555555555"}, "trustedOidcTenants": []any{"github:acme-corp"}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := synthOrg(t, tc.org, tc.extra)
			s := hubSettings(t, tc.org, tc.extra)
			want, err := PreventionDocuments(s, settings.DefaultBootstrapQualifier)
			if err != nil {
				t.Fatal(err)
			}
			env := hubEnv(t, o, HubSweeperName)
			cfg, err := config.FromEnv(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Prevention != config.PreventionEnforce || !slices.Equal(cfg.PreventionTargets, s.Organization.Targets) {
				t.Errorf("sweeper prevention %q on %v, want enforce on %v", cfg.Prevention, cfg.PreventionTargets, s.Organization.Targets)
			}
			got, err := hub.PerimeterDocuments(cfg, testOrgID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("the sweeper renders %d documents, the stack %d", len(got), len(want))
			}
			deployed := map[string]map[string]any{}
			for _, r := range o.hub.resources("AWS::Organizations::Policy") {
				p := r["Properties"].(map[string]any)
				deployed[p["Name"].(string)] = p
			}
			for i := range want {
				if got[i].Name != want[i].Name || got[i].Type != want[i].Type || string(got[i].Content) != string(want[i].Content) {
					t.Errorf("document %d: the sweeper renders %s %s\n%s\nthe stack deploys %s %s\n%s", i, got[i].Name, got[i].Type, got[i].Content,
						want[i].Name, want[i].Type, want[i].Content)
				}
				p := deployed[got[i].Name]
				var content any
				if err := json.Unmarshal(got[i].Content, &content); err != nil {
					t.Fatal(err)
				}
				if p == nil || !jsonEqual(t, p["Content"], content) || !slices.Equal(strs(p["TargetIds"]), cfg.PreventionTargets) {
					t.Errorf("%s: the template's policy %v differs from what the sweeper renders and compares", got[i].Name, p)
				}
			}
			// The reads of the drift check, on the sweeper only.
			sids := map[string]map[string]any{}
			for _, st := range o.hub.statements(t, HubSweeperName) {
				sid, _ := st["Sid"].(string)
				sids[sid] = st
			}
			list, read := sids["ListPerimeterPolicies"], sids["ReadPerimeterPolicies"]
			if list == nil || read == nil || !slices.Equal(strs(list["Action"]), []string{"organizations:ListPolicies"}) ||
				!jsonEqual(t, list["Condition"], map[string]any{"StringEquals": map[string]any{"organizations:PolicyType": []any{perimeter.TypeSCP, perimeter.TypeRCP}}}) ||
				!slices.Equal(strs(read["Action"]), []string{"organizations:DescribePolicy", "organizations:ListTargetsForPolicy"}) {
				t.Errorf("sweeper perimeter statements: %v, %v", list, read)
			}
			for _, st := range o.hub.statements(t, HubEnforcerName) {
				if a := strs(st["Action"]); slices.Contains(a, "organizations:ListPolicies") || slices.Contains(a, "organizations:DescribePolicy") {
					t.Errorf("the enforcer reads organization policies: %v", st)
				}
			}
			for name, stack := range map[string]awscdk.Stack{"hub": o.hub.stack} {
				for _, msgs := range []*[]*cxapi.SynthesisMessage{
					assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))),
					assertions.Annotations_FromStack(stack).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))),
				} {
					for _, m := range *msgs {
						t.Errorf("%s: unsuppressed cdk-nag finding at %s: %v", name, *m.Id, m.Entry.Data)
					}
				}
			}
		})
	}
	// Without enforce the sweeper has nothing to compare and no reads.
	env := hubEnv(t, orgDefault(t), HubSweeperName)
	if env[config.EnvPrevention] != config.PreventionOff || env[config.EnvPreventionTargets] != "" {
		t.Errorf("default prevention env %q %q", env[config.EnvPrevention], env[config.EnvPreventionTargets])
	}
	for _, st := range orgDefault(t).hub.statements(t, HubSweeperName) {
		if sid, _ := st["Sid"].(string); strings.Contains(sid, "Perimeter") {
			t.Errorf("prevention off: sweeper statement %s", sid)
		}
	}
}

// TestHubAlarmsOnPerimeterDrift: a drift record is an ERROR line of the
// hub's sweeper (pkg/hub checkPerimeter), which the ErrorRecords metric
// filter on the sweeper's log group counts and the ErrorRecords alarm
// reports: drift needs no alarm of its own.
func TestHubAlarmsOnPerimeterDrift(t *testing.T) {
	o := orgDefault(t)
	logID, _ := o.hub.byName(t, "AWS::Logs::LogGroup", "LogGroupName", "/aws/lambda/"+HubSweeperName)
	filtered := false
	for _, r := range o.hub.resources("AWS::Logs::MetricFilter") {
		p := r["Properties"].(map[string]any)
		tr, _ := p["MetricTransformations"].([]any)
		if jsonEqual(t, p["LogGroupName"], ref(logID)) && p["FilterPattern"] == `{ $.level = "ERROR" }` && len(tr) == 1 &&
			tr[0].(map[string]any)["MetricName"] == ErrorMetric {
			filtered = true
		}
	}
	_, alarm := o.hub.byName(t, "AWS::CloudWatch::Alarm", "AlarmName", HubPrefix+"-ErrorRecords")
	if !filtered || alarm["MetricName"] != ErrorMetric || alarm["Threshold"] != float64(1) {
		t.Errorf("sweeper ERROR filter %v, alarm %v", filtered, alarm)
	}
}

// TestHubSecurityHub: with securityHub the hub functions get the hub's
// product ARN (each member's account replaces its account) and no import
// permission of their own; each member's role may import exactly that
// member's findings under its own product ARN. Without it, neither.
func TestHubSecurityHub(t *testing.T) {
	// securityHub is on in the configured organization only.
	for on, o := range map[bool]orgSynth{false: orgDefault(t), true: orgConfigured(t)} {
		for _, fn := range []string{HubEnforcerName, HubSweeperName} {
			got := hubEnv(t, o, fn)[publish.EnvSecurityHubProductARN]
			want := ""
			if on {
				want = "arn:aws:securityhub:us-east-1:" + testHubAccount + ":product/" + testHubAccount + "/default"
			}
			if got != want {
				t.Errorf("securityHub %v, %s: %s = %q, want %q", on, fn, publish.EnvSecurityHubProductARN, got, want)
			}
			for _, st := range o.hub.statements(t, fn) {
				for _, a := range strs(st["Action"]) {
					if strings.HasPrefix(a, "securityhub:") {
						t.Errorf("%s holds %s: the hub imports findings only as each member", fn, a)
					}
				}
			}
		}
		r := newResolver(t, o.member)
		var imports []map[string]any
		for _, st := range o.member.statements(t, MemberRoleName) {
			if slices.ContainsFunc(strs(st["Action"]), func(a string) bool { return strings.HasPrefix(a, "securityhub:") }) {
				imports = append(imports, st)
			}
		}
		if !on {
			if len(imports) != 0 {
				t.Errorf("securityHub off: member role statements %v", imports)
			}
			continue
		}
		want := "arn:aws:securityhub:us-east-1:" + testAccount + ":product/" + testAccount + "/default"
		if len(imports) != 1 || imports[0]["Sid"] != "ImportOwnFindings" || !slices.Equal(strs(imports[0]["Action"]), []string{"securityhub:BatchImportFindings"}) ||
			!slices.Equal(strs(r.resolve(imports[0]["Resource"])), []string{want}) {
			t.Errorf("member role import statements %v, want BatchImportFindings on %s only", imports, want)
		}
	}
}
