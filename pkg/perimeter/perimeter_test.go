package perimeter

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	acct = "111122223333"
	org  = "o-exampleorg01"
)

// defaultZone and defaultLockdown are the default configuration: the
// organization trusted, nothing else configured.
var (
	defaultZone     = trust.Zone{Account: acct, TrustedOrgIDs: []string{org}}
	defaultLockdown = lockdown.Config{Account: acct}
)

type stmt struct {
	Sid         string
	Effect      string
	Principal   any
	Action      any
	Resource    any
	NotResource any
	Condition   map[string]map[string]any
}

func statementsOf(t *testing.T, doc []byte) []stmt {
	t.Helper()
	var d struct {
		Version   string
		Statement []stmt
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("not a policy: %v\n%s", err, doc)
	}
	if d.Version != "2012-10-17" {
		t.Errorf("Version %q", d.Version)
	}
	return d.Statement
}

func list(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = x.(string)
		}
		return out
	}
	return nil
}

// checkDocs checks what every document must be: minified (no byte of white
// space outside strings, since every character counts), within MaxSize, and
// made of Deny statements only.
func checkDocs(t *testing.T, what string, docs [][]byte) []stmt {
	t.Helper()
	if len(docs) == 0 {
		t.Fatalf("%s: no documents", what)
	}
	var all []stmt
	for i, d := range docs {
		if len(d) > MaxSize {
			t.Errorf("%s %d: %d bytes, over %d", what, i+1, len(d), MaxSize)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, d); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(compact.Bytes(), d) {
			t.Errorf("%s %d is not minified", what, i+1)
		}
		for _, st := range statementsOf(t, d) {
			if st.Effect != "Deny" {
				t.Errorf("%s %d: statement %s has Effect %q; only Deny is allowed", what, i+1, st.Sid, st.Effect)
			}
			all = append(all, st)
		}
	}
	return all
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./pkg/perimeter -update after review):\n got %s\nwant %s", name, got, want)
	}
}

// TestGolden: the documents of the default configuration, byte for byte.
func TestGolden(t *testing.T) {
	rcps, err := RCPs(defaultZone, nil)
	if err != nil {
		t.Fatal(err)
	}
	scps, err := SCPs(defaultLockdown, SCPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkDocs(t, "RCP", rcps)
	checkDocs(t, "SCP", scps)
	for i, d := range rcps {
		golden(t, fmt.Sprintf("default-rcp-%d.json", i+1), d)
	}
	for i, d := range scps {
		golden(t, fmt.Sprintf("default-scp-%d.json", i+1), d)
	}
	if len(rcps) != 1 || len(scps) != 1 {
		t.Errorf("the default configuration takes %d RCPs and %d SCPs, want one of each", len(rcps), len(scps))
	}
	t.Logf("default configuration: RCP %d bytes, SCP %d bytes (limit %d)", len(rcps[0]), len(scps[0]), MaxSize)
}

// TestRCPStatements: the pitfalls the RCP must avoid, statement by
// statement.
func TestRCPStatements(t *testing.T) {
	z := defaultZone
	z.TrustedAccounts = []string{"444455556666"}
	z.TrustedAudiences = []string{"client-1.apps.googleusercontent.com"}
	z.TrustedOIDCTenants = []string{"github:acme-corp", "github-id:123456", "gitlab:acme-group"}
	rcps, err := RCPs(z, []string{"BreakGlass", "/admin/*"})
	if err != nil {
		t.Fatal(err)
	}
	sts := checkDocs(t, "RCP", rcps)
	bySid := map[string]stmt{}
	for _, st := range sts {
		bySid[st.Sid] = st
		if st.Principal != "*" {
			t.Errorf("%s: Principal %v, want \"*\"", st.Sid, st.Principal)
		}
		if st.Resource != nil || !slices.Equal(list(st.NotResource), []string{"arn:aws:iam::*:role/*BreakGlass", "arn:aws:iam::*:role/admin/*"}) {
			t.Errorf("%s: Resource %v NotResource %v; want every role but the exempt ones", st.Sid, st.Resource, st.NotResource)
		}
		for op, keys := range st.Condition {
			for k := range keys {
				// OIDC provider names are condition-key prefixes and
				// cannot be wildcarded.
				if strings.ContainsAny(k, "*?") {
					t.Errorf("%s: condition key %q holds a wildcard", st.Sid, k)
				}
				_ = op
			}
		}
	}
	// The org-identity statement: sts:AssumeRole only (no federation, no
	// SetSourceIdentity/TagSession), the …IfExists forms, and the zone.
	oi := bySid[SidOrgIdentities]
	if got := list(oi.Action); !slices.Equal(got, []string{"sts:AssumeRole"}) {
		t.Errorf("org identities Action %v, want sts:AssumeRole only", got)
	}
	if got := oi.Condition["StringNotEqualsIfExists"]; !slices.Equal(list(got["aws:PrincipalOrgID"]), []string{org}) ||
		!slices.Equal(list(got["aws:PrincipalAccount"]), []string{acct, "444455556666"}) {
		t.Errorf("org identities condition %v", oi.Condition)
	}
	if oi.Condition["BoolIfExists"]["aws:PrincipalIsAWSService"] != "false" {
		t.Errorf("org identities must let AWS services through: %v", oi.Condition)
	}
	// The confused-deputy statement is keyed on Null aws:SourceAccount.
	cd := bySid[SidConfusedDeputy]
	if cd.Condition["Null"]["aws:SourceAccount"] != "false" || cd.Condition["Bool"]["aws:PrincipalIsAWSService"] != "true" {
		t.Errorf("confused deputy condition %v", cd.Condition)
	}
	// No statement but the web identity ones names a federation action.
	for _, st := range sts {
		for _, a := range list(st.Action) {
			if (a == "sts:AssumeRoleWithSAML" || a == "sts:AssumeRoleWithWebIdentity") && !strings.HasPrefix(st.Sid, SidWebIdentityPrefix) && !strings.HasPrefix(st.Sid, SidTenantsPrefix) {
				t.Errorf("%s names %s", st.Sid, a)
			}
			if a == "sts:AssumeRoleWithSAML" || a == "sts:SetSourceIdentity" || a == "sts:TagSession" {
				t.Errorf("%s names %s, which federated logins use", st.Sid, a)
			}
		}
	}
	// One tenant statement per shared issuer of a trusted tenant, each
	// with Null on its own provider's sub.
	providers := map[string]bool{}
	for sid, st := range bySid {
		if !strings.HasPrefix(sid, SidTenantsPrefix) {
			continue
		}
		for k := range st.Condition["Null"] {
			providers[strings.TrimSuffix(k, ":sub")] = true
		}
		for k, v := range st.Condition["StringNotLike"] {
			for _, p := range list(v) {
				if strings.Count(p, "*") > 1 || strings.Contains(p, "?") || strings.Contains(p, "*") && !strings.HasSuffix(p, "*") {
					t.Errorf("%s %s: pattern %q has a wildcard before its end", sid, k, p)
				}
			}
		}
	}
	for _, p := range []string{"token.actions.githubusercontent.com", "vstoken.actions.githubusercontent.com", "gitlab.com"} {
		if !providers[p] {
			t.Errorf("no tenant statement for %s (have %v)", p, providers)
		}
	}
	// Every public web identity provider has its statement, holding the
	// trusted audience.
	for _, name := range []string{"Cognito", "Google", "Facebook", "Amazon"} {
		st, ok := bySid[SidWebIdentityPrefix+name]
		if !ok {
			t.Errorf("no statement for %s", name)
			continue
		}
		for _, v := range st.Condition["StringNotEquals"] {
			if !slices.Equal(list(v), z.TrustedAudiences) {
				t.Errorf("%s audiences %v", name, v)
			}
		}
	}
}

func TestRCPInvalid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		z      trust.Zone
		exempt []string
	}{
		{"no organization", trust.Zone{Account: acct}, nil},
		{"bad account", trust.Zone{Account: "1", TrustedOrgIDs: []string{org}}, nil},
		{"policy variable in an audience", trust.Zone{Account: acct, TrustedOrgIDs: []string{org}, TrustedAudiences: []string{"${aws:username}"}}, nil},
		{"exempt every role", defaultZone, []string{"*"}},
		{"policy variable in an exemption", defaultZone, []string{"role-${aws:username}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if docs, err := RCPs(tc.z, tc.exempt); err == nil {
				t.Errorf("RCPs accepted it: %s", docs)
			}
		})
	}
}

// TestSCPCarriesLockdown: every lockdown statement reaches the SCPs, with
// every action and resource it has (the account field as the request's
// account), and each SCP statement exempts exactly the roles the engine
// never locks down.
func TestSCPCarriesLockdown(t *testing.T) {
	l := lockdown.Config{Account: acct, ExemptRoles: []string{"BreakGlass", "/admin/*"}, AllowedTokenAudiences: []string{"https://api.partner.example"},
		ExtraDeniedActions: []string{"ram:CreateResourceShare"}, ProtectedBuckets: []string{"org-trail-logs"}}
	opts := SCPOptions{ProtectedRoleARNs: []string{"arn:aws:iam::" + acct + ":role/IamRoleGuardrail-Enforcer"}}
	scps, err := SCPs(l, opts)
	if err != nil {
		t.Fatal(err)
	}
	sts := checkDocs(t, "SCP", scps)
	sids, err := MergedSids(l, opts)
	if err != nil {
		t.Fatal(err)
	}
	l.Account = lockdown.PrincipalAccountVariable
	want, err := lockdown.Statements(l)
	if err != nil {
		t.Fatal(err)
	}
	exempt := []string{"arn:aws:iam::*:role/*BreakGlass", "arn:aws:iam::*:role/admin/*",
		"arn:aws:iam::*:role/IamRoleGuardrail-*", opts.ProtectedRoleARNs[0], "arn:aws:iam::*:role/aws-reserved/*"}
	covered := map[string]bool{}
	for _, st := range sts {
		if st.Principal != nil || st.NotResource != nil {
			t.Errorf("%s: an SCP statement has neither Principal nor NotResource here", st.Sid)
		}
		if got := list(st.Condition["ArnNotLike"]["aws:PrincipalArn"]); !slices.Equal(got, exempt) {
			t.Errorf("%s exempts %v, want %v", st.Sid, got, exempt)
		}
		members, ok := sids[st.Sid]
		if !ok {
			t.Errorf("%s is not in MergedSids", st.Sid)
		}
		for _, m := range members {
			for _, w := range want {
				if w.Sid != m {
					continue
				}
				covered[m] = true
				for _, a := range w.Action {
					if !slices.Contains(list(st.Action), a) {
						t.Errorf("%s lost action %s of %s", st.Sid, a, m)
					}
				}
				for _, r := range w.Resource {
					if !slices.Contains(list(st.Resource), r) {
						t.Errorf("%s lost resource %s of %s", st.Sid, r, m)
					}
				}
				for op, kv := range w.Condition {
					for k := range kv {
						if _, ok := st.Condition[op][k]; !ok {
							t.Errorf("%s lost condition %s %s of %s", st.Sid, op, k, m)
						}
					}
				}
			}
		}
	}
	for _, w := range want {
		if !covered[w.Sid] {
			t.Errorf("lockdown statement %s is in no SCP", w.Sid)
		}
	}
	// Outbound identity tokens are in the lockdown, hence in the SCPs.
	found := false
	for _, st := range sts {
		found = found || slices.Contains(list(st.Action), "sts:GetWebIdentityToken")
	}
	if !found {
		t.Error("no SCP statement denies sts:GetWebIdentityToken")
	}
	// Merged statements changed nothing but their lists: two statements
	// with the same Resource and Condition never remain apart.
	seen := map[string]string{}
	for _, st := range sts {
		k, _ := json.Marshal([]any{st.Resource, st.Condition})
		if other, ok := seen[string(k)]; ok {
			t.Errorf("%s and %s could have been merged", other, st.Sid)
		}
		seen[string(k)] = st.Sid
	}
}

func TestSCPOptions(t *testing.T) {
	scps, err := SCPs(defaultLockdown, SCPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.Join(scps, nil), []byte(ControlTowerExecutionRole)) {
		t.Error("the Control Tower role is exempt without ControlTower")
	}
	scps, err = SCPs(defaultLockdown, SCPOptions{ControlTower: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range checkDocs(t, "SCP", scps) {
		if !slices.Contains(list(st.Condition["ArnNotLike"]["aws:PrincipalArn"]), "arn:aws:iam::*:role/"+ControlTowerExecutionRole) {
			t.Errorf("%s does not exempt the Control Tower role with ControlTower", st.Sid)
		}
	}
	if _, err := SCPs(lockdown.Config{Account: acct, ExemptRoles: []string{"*"}}, SCPOptions{}); err == nil {
		t.Error("an exemption of every role was accepted")
	}
}

// fill grows a list one item at a time while ok accepts it, and returns the
// longest list ok accepted: the largest configuration a budget allows.
func fill(t *testing.T, item func(i int) string, ok func([]string) bool) []string {
	t.Helper()
	var out []string
	for i := 0; i < 1000; i++ {
		next := append(slices.Clone(out), item(i))
		if !ok(next) {
			return out
		}
		out = next
	}
	t.Fatal("the budget never ran out")
	return nil
}

// largestLockdown is the largest lockdown configuration pkg/lockdown
// accepts: longest partition, prefix and policy name, and every budget
// (extra actions, exemptions, buckets, token audiences) filled.
func largestLockdown(t *testing.T) lockdown.Config {
	l := lockdown.Config{
		Partition: "aws-us-gov", Account: acct,
		NamePrefix: "P" + strings.Repeat("p", lockdown.MaxNamePrefixLength-1), PolicyName: strings.Repeat("n", lockdown.MaxPolicyNameLength),
		AlarmKeyARN: "arn:aws-us-gov:kms:ap-southeast-7:" + acct + ":key/mrk-" + strings.Repeat("0", 32),
	}
	accepts := func(c lockdown.Config) bool { _, err := lockdown.Statements(c); return err == nil }
	l.ExtraDeniedActions = fill(t, func(i int) string { return fmt.Sprintf("s%02d:%s", i, strings.Repeat("A", 40)) },
		func(v []string) bool { c := l; c.ExtraDeniedActions = v; return accepts(c) })
	l.ExemptRoles = fill(t, func(i int) string { return fmt.Sprintf("exempt-role-%02d-*", i) },
		func(v []string) bool { c := l; c.ExemptRoles = v; return accepts(c) })
	l.ProtectedBuckets = fill(t, func(i int) string { return fmt.Sprintf("%02d", i) + strings.Repeat("b", 61) },
		func(v []string) bool { c := l; c.ProtectedBuckets = v; return accepts(c) })
	l.AllowedTokenAudiences = fill(t, func(i int) string { return fmt.Sprintf("https://%02d.", i) + strings.Repeat("a", 30) },
		func(v []string) bool { c := l; c.AllowedTokenAudiences = v; return accepts(c) })
	return l
}

// largestZone is the sizing configuration of the RCP: the engine puts no
// bound on these lists, so this is a large organization's, with every
// tenant kind that changes the document.
func largestZone() trust.Zone {
	z := trust.Zone{Account: acct, Partition: "aws-us-gov"}
	for i := range 40 {
		z.TrustedAccounts = append(z.TrustedAccounts, fmt.Sprintf("%012d", 100000000000+i))
	}
	for i := range 5 {
		z.TrustedOrgIDs = append(z.TrustedOrgIDs, fmt.Sprintf("o-%032d", i))
	}
	for i := range 10 {
		// Google client IDs are about 72 characters.
		z.TrustedAudiences = append(z.TrustedAudiences, fmt.Sprintf("%012d-%s.apps.googleusercontent.com", i, strings.Repeat("x", 32)))
	}
	for i := range 8 {
		// GitHub names are at most 39 characters. Each owner adds about
		// 430 characters to its issuer's statement, which must fit one
		// document with the exemptions: eight is about the most.
		z.TrustedOIDCTenants = append(z.TrustedOIDCTenants, fmt.Sprintf("github:owner-%02d-%s", i, strings.Repeat("o", 26)))
	}
	z.TrustedOIDCTenants = append(z.TrustedOIDCTenants, "github-id:123456789", "github-enterprise-id:4242", "gitlab:acme-group", "gitlab-project-id:99", "terraform:acme")
	return z
}

// TestSizesLargest: at the largest configuration every document is within
// MaxSize, and both policies fit the slots an OU has (five per policy type,
// one taken by FullAWSAccess or RCPFullAWSAccess: AWS Organizations User
// Guide, "Managing AWS Organizations policies", "Maximum number you can
// attach to a root, OU, or account: SCP 5"; the RCP quota is taken to be the
// same).
func TestSizesLargest(t *testing.T) {
	l := largestLockdown(t)
	opts := SCPOptions{ControlTower: true, ProtectedRoleARNs: []string{
		"arn:aws-us-gov:iam::" + acct + ":role/" + l.NamePrefix + "-Enforcer",
		"arn:aws-us-gov:iam::" + acct + ":role/" + l.NamePrefix + "-Sweeper",
		"arn:aws-us-gov:iam::" + acct + ":role/" + l.NamePrefix + "-Member"}}
	scps, err := SCPs(l, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkDocs(t, "SCP", scps)
	z := largestZone()
	rcps, err := RCPs(z, l.ExemptRoles)
	if err != nil {
		t.Fatal(err)
	}
	checkDocs(t, "RCP", rcps)
	sizes := func(docs [][]byte) []int {
		var out []int
		for _, d := range docs {
			out = append(out, len(d))
		}
		return out
	}
	t.Logf("largest configuration: RCPs %v bytes, SCPs %v bytes (limit %d each); %d exemption globs, %d trusted accounts, %d tenants",
		sizes(rcps), sizes(scps), MaxSize, len(l.ExemptRoles), len(z.TrustedAccounts), len(z.TrustedOIDCTenants))
	for what, n := range map[string]int{"RCPs": len(rcps), "SCPs": len(scps)} {
		if n > 4 {
			t.Errorf("%d %s; an OU takes four besides the default policy", n, what)
		}
	}
	// A statement that cannot fit one document alone is refused, not
	// written over the limit.
	huge := z
	for i := range 400 {
		huge.TrustedAccounts = append(huge.TrustedAccounts, fmt.Sprintf("%012d", 200000000000+i))
	}
	var se *SizeError
	if _, err := RCPs(huge, nil); !errors.As(err, &se) {
		t.Errorf("RCPs with %d trusted accounts: %v, want a *SizeError", len(huge.TrustedAccounts), err)
	}
}

func TestDeterministic(t *testing.T) {
	z := largestZone()
	a, err := RCPs(z, []string{"BreakGlass"})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b, _ := RCPs(z, []string{"BreakGlass"})
		if !bytes.Equal(bytes.Join(a, nil), bytes.Join(b, nil)) {
			t.Fatal("two renderings of one configuration differ")
		}
	}
}
