package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/perimeter"
	"github.com/iamguardrail/guardrail/pkg/policy"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// The organization policies of pkg/perimeter (issue 18), evaluated by the
// same independent IAM evaluator as the attacker-request table
// (@cloud-copilot/iam-simulate, pinned in testdata/iamsim/package.json and
// installed by `make test`), through testdata/iamsim/perimeter.js. That
// driver carries the workarounds for two of the evaluator's three known
// defects (every decision from runUnsafeSimulation, runSimulation only
// validating; RCPFullAWSAccess added at every level; a named, validated
// resource policy); the third, policy variables in an ARN's account field,
// is worked around here (resolveVariables).

// perimResult is one line of perimeter.js's output.
type perimResult struct {
	Name       string `json:"name"`
	Result     string `json:"result"`
	Validation struct {
		Errors  json.RawMessage `json:"errors"`
		Ignored []string        `json:"ignoredContextKeys"`
	} `json:"validation"`
}

// runPerimeterSim evaluates cases with perimeter.js. Validation errors of
// runSimulation fail the test: the input must be valid IAM, even where the
// decision comes from runUnsafeSimulation.
func runPerimeterSim(t *testing.T, cases []map[string]any) []perimResult {
	t.Helper()
	node, modules := iamSim(t)
	in, err := json.Marshal(map[string]any{"cases": cases})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join("testdata", "iamsim", "perimeter.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perimeter.js: %v\n%s", err, stderr.String())
	}
	var res []perimResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("perimeter.js output: %v\n%s", err, out)
	}
	if len(res) != len(cases) {
		t.Fatalf("%d results for %d cases", len(res), len(cases))
	}
	for _, r := range res {
		if len(r.Validation.Errors) > 0 && string(r.Validation.Errors) != "null" {
			t.Errorf("%s: runSimulation refused the input: %s", r.Name, r.Validation.Errors)
		}
		if strings.HasPrefix(r.Result, "error") {
			t.Errorf("%s: %s", r.Name, r.Result)
		}
	}
	return res
}

// levels puts policies at one OU between an organization root and the
// account, as Organizations evaluates them (every level must allow).
func levels(account string, policies []any) []map[string]any {
	named := []any{}
	for i, p := range policies {
		named = append(named, map[string]any{"name": fmt.Sprintf("perimeter-%d", i+1), "policy": p})
	}
	return []map[string]any{
		{"orgIdentifier": "r-root", "policies": []any{}},
		{"orgIdentifier": "ou-root-guarded", "policies": named},
		{"orgIdentifier": account, "policies": []any{}},
	}
}

func rawPolicies(t *testing.T, docs [][]byte) []any {
	t.Helper()
	var out []any
	for _, d := range docs {
		var v any
		if err := json.Unmarshal(d, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// The zone of the grid: the guarded organization, one trusted partner
// account outside it, one trusted GitHub owner and one trusted Google
// client.
const (
	gridOrg      = "o-guardedorg1"
	gridMember   = testAccount    // the account the roles live in
	gridPeer     = "222233334444" // another member of gridOrg
	gridPartner  = "444455556666" // trusted, in another organization
	gridForeign  = "999988887777"
	gridForeign2 = "888877776666" // in no organization
	gridPartner2 = "555566667777" // in the partner's organization, not trusted
	gridOwner    = "acme-corp"
	gridOwnerID  = "123456"
	gridClient   = "trusted-client.apps.googleusercontent.com"
	ghProvider   = "token.actions.githubusercontent.com"
	// eksProvider is a per-cluster EKS issuer: single-tenant, not listed in
	// the RCP, so neither refused nor admitted by it.
	eksProvider = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
	// googleProvider: see gridCallers.
	googleProvider = "arn:aws:iam::" + gridMember + ":oidc-provider/accounts.google.com"
)

func gridZone() trust.Zone {
	return trust.Zone{Account: gridMember, TrustedAccounts: []string{gridPartner}, TrustedOrgIDs: []string{gridOrg},
		TrustedAudiences: []string{gridClient}, TrustedOIDCTenants: []string{"github:" + gridOwner}}
}

// gridCaller is one caller of the grid.
type gridCaller struct {
	name      string
	principal string
	action    string
	context   map[string]any
	// outsider: outside the zone, so the RCP must refuse it wherever a
	// trust policy alone would admit it.
	outsider bool
	// identity: the caller's own account grants it sts:AssumeRole (an
	// IAM principal; services and federated callers have no identity
	// policy).
	identity bool
}

func iamCaller(name, account, org string, outsider bool) gridCaller {
	arn := "arn:aws:iam::" + account + ":role/" + name
	ctx := map[string]any{"aws:PrincipalArn": arn, "aws:PrincipalAccount": account, "aws:PrincipalIsAWSService": "false"}
	if org != "" {
		ctx["aws:PrincipalOrgID"] = org
	}
	return gridCaller{name: name, principal: arn, action: "sts:AssumeRole", context: ctx, outsider: outsider, identity: true}
}

func githubCaller(name, sub, repo, ownerID string, outsider bool) gridCaller {
	return gridCaller{name: name, principal: "arn:aws:iam::" + gridMember + ":oidc-provider/" + ghProvider, action: "sts:AssumeRoleWithWebIdentity",
		context: map[string]any{ghProvider + ":aud": "sts.amazonaws.com", ghProvider + ":sub": sub,
			ghProvider + ":repository": repo, ghProvider + ":repository_owner_id": ownerID},
		outsider: outsider}
}

func gridCallers() []gridCaller {
	svc := func(name string, ctx map[string]any, outsider bool) gridCaller {
		ctx["aws:PrincipalIsAWSService"] = "true"
		return gridCaller{name: name, principal: "lambda.amazonaws.com", action: "sts:AssumeRole", context: ctx, outsider: outsider}
	}
	// Google's issuer registered as an OIDC provider, which the engine
	// reads like the bare name: the evaluator never admits a caller whose
	// principal is not an ARN (it has no account), so the bare
	// "accounts.google.com" could not be admitted even by a trust policy
	// that names it. The RCP's condition keys are the same for both forms.
	google := func(name, aud string, outsider bool) gridCaller {
		return gridCaller{name: name, principal: googleProvider, action: "sts:AssumeRoleWithWebIdentity",
			context: map[string]any{"accounts.google.com:aud": aud, "accounts.google.com:sub": "110169484474386276334"}, outsider: outsider}
	}
	return []gridCaller{
		iamCaller("own-account", gridMember, gridOrg, false),
		iamCaller("trusted-account", gridPartner, "o-partnerorg01", false),
		iamCaller("organization-member", gridPeer, gridOrg, false),
		iamCaller("foreign-account", gridForeign, "o-evilorg0001", true),
		iamCaller("foreign-account-no-org", gridForeign2, "", true),
		iamCaller("partner-organization-other-account", gridPartner2, "o-partnerorg01", true),
		{name: "foreign-user", principal: "arn:aws:iam::" + gridForeign + ":user/mallory", action: "sts:AssumeRole", identity: true, outsider: true,
			context: map[string]any{"aws:PrincipalArn": "arn:aws:iam::" + gridForeign + ":user/mallory", "aws:PrincipalAccount": gridForeign,
				"aws:PrincipalOrgID": "o-evilorg0001", "aws:PrincipalIsAWSService": "false"}},
		svc("aws-service-for-own-account", map[string]any{"aws:SourceAccount": gridMember, "aws:SourceOrgID": gridOrg, "aws:SourceArn": "arn:aws:lambda:us-east-1:" + gridMember + ":function:app"}, false),
		svc("aws-service-no-source", map[string]any{}, false),
		svc("aws-service-for-foreign-account", map[string]any{"aws:SourceAccount": gridForeign, "aws:SourceOrgID": "o-evilorg0001", "aws:SourceArn": "arn:aws:lambda:us-east-1:" + gridForeign + ":function:x"}, true),
		githubCaller("github-owner-sub", "repo:"+gridOwner+"/app:ref:refs/heads/main", gridOwner+"/app", gridOwnerID, false),
		githubCaller("github-owner-custom-sub", "environment:prod", gridOwner+"/app", gridOwnerID, false),
		githubCaller("github-other-owner-sub", "repo:evil-org/app:ref:refs/heads/main", "evil-org/app", "666", true),
		githubCaller("github-other-owner-custom-sub", "environment:prod", "evil-org/app", "666", true),
		githubCaller("github-lookalike-owner", "repo:"+gridOwner+"-evil/app:ref:refs/heads/main", gridOwner+"-evil/app", "667", true),
		// The EKS provider's keys are among those runSimulation drops
		// (defect 1); the decision comes from runUnsafeSimulation.
		{name: "eks-service-account", principal: "arn:aws:iam::" + gridMember + ":oidc-provider/" + eksProvider, action: "sts:AssumeRoleWithWebIdentity",
			context: map[string]any{eksProvider + ":sub": "system:serviceaccount:orders:api", eksProvider + ":aud": "sts.amazonaws.com"}},
		{name: "saml", principal: "arn:aws:iam::" + gridMember + ":saml-provider/corp", action: "sts:AssumeRoleWithSAML",
			context: map[string]any{"saml:aud": "https://signin.aws.amazon.com/saml", "saml:sub": "alice@example.com"}},
		google("google-trusted-client", gridClient, false),
		google("google-other-client", "evil-client.apps.googleusercontent.com", true),
	}
}

// gridRoles are the roles of the grid: a compliant one, one that trusts
// outsiders, and an exempt one with the same trust policy.
func gridRoles() []struct {
	name, trust string
	exempt      bool
} {
	m := gridMember
	compliant := `{"Version":"2012-10-17","Statement":[
{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::` + m + `:root","arn:aws:iam::` + gridPartner + `:root"]},"Action":"sts:AssumeRole"},
{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"` + gridOrg + `"}}},
{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"` + m + `"}}},
{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::` + m + `:oidc-provider/` + ghProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + ghProvider + `:aud":"sts.amazonaws.com"},"StringLike":{"` + ghProvider + `:sub":"repo:` + gridOwner + `/*"}}},
{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::` + m + `:saml-provider/corp"},"Action":"sts:AssumeRoleWithSAML","Condition":{"StringEquals":{"SAML:aud":"https://signin.aws.amazon.com/saml"}}},
{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::` + m + `:oidc-provider/` + eksProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + eksProvider + `:sub":"system:serviceaccount:orders:api","` + eksProvider + `:aud":"sts.amazonaws.com"}}},
{"Effect":"Allow","Principal":{"Federated":"` + googleProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"accounts.google.com:aud":"` + gridClient + `"}}}]}`
	open := `{"Version":"2012-10-17","Statement":[
{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::` + m + `:root","arn:aws:iam::` + gridForeign + `:root"]},"Action":"sts:AssumeRole"},
{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"},
{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"},
{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::` + m + `:oidc-provider/` + ghProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + ghProvider + `:aud":"sts.amazonaws.com"}}},
{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::` + m + `:saml-provider/corp"},"Action":"sts:AssumeRoleWithSAML"},
{"Effect":"Allow","Principal":{"Federated":"` + googleProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"accounts.google.com:aud":"*"}}}]}`
	return []struct {
		name, trust string
		exempt      bool
	}{
		{"compliant", compliant, false},
		{"foreign-trusting", open, false},
		{"BreakGlass", open, true},
	}
}

// TestPerimeterRCPGrid: callers × roles × actions. For each role the trust
// policy alone, the trust policy as the engine restricts it, and the trust
// policy under the perimeter RCP are evaluated. The RCP must refuse every
// outsider the trust policy alone admits (except on the exempt role, which
// the engine and the RCP both leave alone) and refuse no insider the
// engine's policy admits.
func TestPerimeterRCPGrid(t *testing.T) {
	iamSim(t) // fail or skip before building anything
	z := gridZone()
	rcps, err := perimeter.RCPs(z, []string{"BreakGlass"})
	if err != nil {
		t.Fatal(err)
	}
	rcpLevels := levels(gridMember, rawPolicies(t, rcps))
	admin := []any{map[string]any{"name": "AdministratorAccess", "policy": map[string]any{"Version": "2012-10-17",
		"Statement": []any{map[string]any{"Effect": "Allow", "Action": "*", "Resource": "*"}}}}}

	type variant struct {
		name string
		doc  string
		rcp  bool
	}
	var cases []map[string]any
	type key struct{ role, caller, variant string }
	var keys []key
	callers := gridCallers()
	roles := gridRoles()
	for _, role := range roles {
		doc, err := policy.Parse([]byte(role.trust))
		if err != nil {
			t.Fatalf("%s: %v", role.name, err)
		}
		kept := role.trust // the engine never touches an exempt role
		if !role.exempt {
			res, err := trust.Restrict(doc, z)
			if err != nil {
				t.Fatalf("%s: %v", role.name, err)
			}
			kept = res.Policy.String()
		}
		for _, v := range []variant{{"alone", role.trust, false}, {"engine", kept, false}, {"rcp", role.trust, true}} {
			var rp any
			if err := json.Unmarshal([]byte(v.doc), &rp); err != nil {
				t.Fatalf("%s %s: %v", role.name, v.name, err)
			}
			for _, c := range callers {
				cs := map[string]any{
					"name": role.name + " / " + c.name + " / " + v.name, "principal": c.principal, "action": c.action,
					"resource": "arn:aws:iam::" + gridMember + ":role/" + role.name, "resourceAccount": gridMember,
					"context":        c.context,
					"resourcePolicy": map[string]any{"name": "TrustPolicy", "policy": rp},
				}
				if c.identity {
					cs["identityPolicies"] = admin
				}
				if v.rcp {
					cs["rcps"] = rcpLevels
				}
				cases = append(cases, cs)
				keys = append(keys, key{role.name, c.name, v.name})
			}
		}
	}
	res := runPerimeterSim(t, cases)
	got := map[key]bool{}
	for i, r := range res {
		got[keys[i]] = r.Result == "Allowed"
	}
	refused, kept := 0, 0
	for _, role := range roles {
		for _, c := range callers {
			alone, engine, withRCP := got[key{role.name, c.name, "alone"}], got[key{role.name, c.name, "engine"}], got[key{role.name, c.name, "rcp"}]
			switch {
			case role.exempt:
				if withRCP != alone {
					t.Errorf("exempt role %s, %s (%s): the RCP changes the decision (alone %t, with the RCP %t); exempt roles are left alone", role.name, c.name, c.action, alone, withRCP)
				}
			case c.outsider && alone:
				if withRCP {
					t.Errorf("%s, outsider %s (%s): the trust policy admits it and the RCP does not refuse it", role.name, c.name, c.action)
				}
				refused++
			case !c.outsider && engine:
				if !withRCP {
					t.Errorf("%s, %s (%s): the engine keeps it and the RCP refuses it", role.name, c.name, c.action)
				}
				kept++
			}
			if testing.Verbose() {
				t.Logf("%-16s %-32s alone=%-5t engine=%-5t rcp=%-5t outsider=%t", role.name, c.name, alone, engine, withRCP, c.outsider)
			}
			if !c.outsider && alone && !engine && !role.exempt {
				t.Logf("%s, %s: admitted by the trust policy, removed by the engine", role.name, c.name)
			}
		}
	}
	t.Logf("RCP grid: %d callers x %d roles x 3 evaluations = %d requests; %d outsider admissions refused, %d kept callers let through",
		len(callers), len(roles), len(cases), refused, kept)
	// The grid must exercise both sides, or it proves nothing.
	if refused < 8 || kept < 8 {
		t.Errorf("the grid refused %d outsider admissions and let %d kept callers through; want at least 8 of each", refused, kept)
	}
}

// resolveVariables replaces ${aws:PrincipalAccount} in a policy with the
// request's aws:PrincipalAccount, as IAM does before matching. Workaround
// for the evaluator's third defect: it does not resolve policy variables in
// the account field of an ARN (arn:aws:iam::${aws:PrincipalAccount}:role/…)
// before matching, so the SCP's resources would never match.
func resolveVariables(t *testing.T, docs [][]byte, account string) [][]byte {
	t.Helper()
	out := make([][]byte, len(docs))
	for i, d := range docs {
		out[i] = bytes.ReplaceAll(d, []byte("${aws:PrincipalAccount}"), []byte(account))
	}
	return out
}

// TestPerimeterSCPAttackerTable: the lockdown as SCPs (pkg/perimeter),
// built from the functions' own configuration as CloudFormation resolves it,
// on a principal that holds AdministratorAccess and no lockdown policy.
// Every request of the attacker table (simulate_test.go) that the lockdown
// denies a service role is denied by the SCPs; every request it allows (an
// application's ordinary work, contained escalations) is allowed; and the
// exempt and protected roles, the guardrail's own, Control Tower's and
// Identity Center's are denied nothing.
func TestPerimeterSCPAttackerTable(t *testing.T) {
	iamSim(t)
	admin := []any{map[string]any{"name": "AdministratorAccess", "policy": map[string]any{"Version": "2012-10-17",
		"Statement": []any{map[string]any{"Effect": "Allow", "Action": "*", "Resource": "*"}}}}}
	for _, st := range []struct {
		name string
		s    synthesized
	}{{"default", defaults(t)}, {"full", full(t)}} {
		t.Run(st.name, func(t *testing.T) {
			r := newResolver(t, st.s)
			_, fprops := st.s.byName(t, "AWS::Lambda::Function", "FunctionName", EnforcerName)
			env := map[string]string{}
			for k, v := range r.resolve(fprops["Environment"].(map[string]any)["Variables"]).(map[string]any) {
				env[k] = v.(string)
			}
			c, err := config.FromEnv(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			lc, err := guardrail.LockdownConfig(c)
			if err != nil {
				t.Fatal(err)
			}
			// An organization AWS Control Tower manages.
			scps, err := perimeter.SCPs(lc, perimeter.SCPOptions{ProtectedRoleARNs: c.ProtectedRoleARNs, ControlTower: true})
			if err != nil {
				t.Fatal(err)
			}
			sizes := []int{}
			for _, d := range scps {
				sizes = append(sizes, len(d))
			}
			keyID, _ := st.s.byName(t, "AWS::KMS::Key", "Description", "Encrypts the guardrail's alarm topic")
			trailBucket := "arn:aws:s3:::no-trail-bucket"
			for id := range st.s.resources("AWS::S3::Bucket") {
				trailBucket = r.getAtt(id, "Arn")
			}
			// Who asks: a service role (the lockdown's target), and the
			// principals the SCPs exempt.
			type who struct {
				name, arn string
				exempt    bool
			}
			principals := []who{
				{"service role", appRole, false},
				{"CDK cfn-exec (exempt)", cfnExec, true},
				{"CDK deploy role (exempt)", deployRole, true},
				{"enforcer (protected)", enforcerArn, true},
				{"Control Tower execution role", iamPrefix + "role/" + perimeter.ControlTowerExecutionRole, true},
				{"Identity Center role", iamPrefix + "role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef", true},
			}
			if st.name == "full" {
				principals = append(principals, who{"BreakGlass (exempt)", iamPrefix + "role/BreakGlass", true}, who{"path-exempt role", iamPrefix + "role/admin/ops", true})
			}
			var cases []map[string]any
			type meta struct {
				who   who
				c     simCase
				allow bool
			}
			var metas []meta
			levelsFor := levels(acctID, rawPolicies(t, resolveVariables(t, scps, acctID)))
			// Organizations' default SCP at every level: without it
			// nothing is allowed (AWS Organizations User Guide, "SCP
			// evaluation").
			full := map[string]any{"name": "FullAWSAccess", "policy": map[string]any{"Version": "2012-10-17",
				"Statement": []any{map[string]any{"Effect": "Allow", "Action": "*", "Resource": "*"}}}}
			for _, l := range levelsFor {
				l["policies"] = append([]any{full}, toAny(l["policies"])...)
			}
			for _, w := range principals {
				for _, c := range simCases(r.getAtt(keyID, "Arn"), trailBucket) {
					if c.who != svc || (c.fullOnly && st.name != "full") || (c.defaultOnly && st.name != "default") {
						continue
					}
					ctx := map[string]any{"aws:PrincipalArn": w.arn, "aws:PrincipalAccount": acctID, "aws:PrincipalOrgID": gridOrg}
					for k, v := range c.context {
						ctx[k] = v
					}
					cs := map[string]any{
						"name": w.name + ": " + c.name, "principal": w.arn, "action": c.action, "resource": c.resource,
						"resourceAccount": acctID, "context": ctx, "identityPolicies": admin, "scps": levelsFor,
					}
					if strings.HasPrefix(c.action, "kms:") {
						cs["resourcePolicy"] = map[string]any{"name": "KeyPolicy", "policy": map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
							"Sid": "EnableIAMPolicies", "Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::" + acctID + ":root"},
							"Action": "kms:*", "Resource": "*"}}}}
					}
					cases = append(cases, cs)
					metas = append(metas, meta{w, c, w.exempt || c.allow})
				}
			}
			res := runPerimeterSim(t, cases)
			denied, allowed := 0, 0
			for i, m := range metas {
				want := "ExplicitlyDenied"
				if m.allow {
					want = "Allowed"
				}
				if res[i].Result != want {
					t.Errorf("%s (%s on %s): %s, want %s", res[i].Name, m.c.action, m.c.resource, res[i].Result, want)
				}
				if m.allow {
					allowed++
				} else {
					denied++
				}
			}
			t.Logf("lockdown SCPs %v bytes (limit %d): %d requests, %d lockdown requests denied to the service role, %d allowed (application work, exempt and protected roles)",
				sizes, perimeter.MaxSize, len(cases), denied, allowed)
			if denied < 80 {
				t.Errorf("only %d lockdown requests denied; the attacker table holds more", denied)
			}
		})
	}
}

func toAny(v any) []any {
	if a, ok := v.([]any); ok {
		return a
	}
	return nil
}
