package trust

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/pkg/cloudtrail"
	"github.com/iamguardrail/guardrail/pkg/policy"
)

// checkInvariants asserts what must hold for every restriction of doc:
// the output is valid JSON that parses again; every Allow statement of the
// output comes from an Allow statement of the input with everything but its
// principal unchanged and a subset of its principals (the engine only
// removes); restricting again changes nothing; and every principal left in
// an Allow statement is in the zone or covered by a restricting condition.
func checkInvariants(t testing.TB, doc *policy.Document, z Zone) {
	t.Helper()
	res, err := Restrict(doc, z)
	if err != nil {
		t.Fatalf("Restrict: %v", err)
	}
	out := res.Policy.String()
	if !json.Valid([]byte(out)) {
		t.Fatalf("output is not valid JSON: %s", out)
	}
	again, err := policy.Parse([]byte(out))
	if err != nil {
		t.Fatalf("output does not parse: %v\n%s", err, out)
	}

	// Only removes: output Allow statements are a subsequence of input Allow
	// statements, each equal but for a subset of principals.
	in := allowStatements(t, doc.String())
	j := 0
	for _, o := range allowStatements(t, out) {
		for ; j < len(in); j++ {
			if sameBut(o, in[j]) {
				break
			}
		}
		if j == len(in) {
			t.Fatalf("output admits what the input did not: %v\ninput:  %s\noutput: %s", o, doc.String(), out)
		}
		j++
	}

	// Idempotent.
	res2, err := Restrict(again, z)
	if err != nil {
		t.Fatalf("Restrict(output): %v", err)
	}
	if res2.Changed || res2.Policy.String() != out {
		t.Fatalf("restricting twice changed the policy:\nonce:  %s\ntwice: %s", out, res2.Policy.String())
	}

	// Nothing untrusted remains in an Allow statement.
	for _, p := range res2.Principals {
		if p.Effect == string(policy.Allow) && !p.Trusted {
			t.Fatalf("untrusted principal %s remains: %s", p, out)
		}
		if p.Effect != string(policy.Allow) {
			continue
		}
		if p.Kind == KindForeignAccount || p.Kind == KindWildcard {
			c := stmtCtx{doc: again, s: again.Statements[p.Statement], z: &z}
			if by, _ := c.confinedAWS(); by == "" {
				t.Fatalf("%s remains without a restricting condition or Deny: %s", p, out)
			}
		}
	}
}

type stmtJSON = map[string]any

func allowStatements(t testing.TB, doc string) []stmtJSON {
	t.Helper()
	var d struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("decode %s: %v", doc, err)
	}
	var list []stmtJSON
	if err := json.Unmarshal(d.Statement, &list); err != nil {
		var one stmtJSON
		if err := json.Unmarshal(d.Statement, &one); err != nil {
			t.Fatalf("decode statements of %s: %v", doc, err)
		}
		list = []stmtJSON{one}
	}
	var out []stmtJSON
	for _, s := range list {
		if s["Effect"] == "Allow" {
			out = append(out, s)
		}
	}
	return out
}

// sameBut reports whether out equals in except that its principal values are
// a subset of in's.
func sameBut(out, in stmtJSON) bool {
	o, i := map[string]any{}, map[string]any{}
	for k, v := range out {
		if k != "Principal" {
			o[k] = v
		}
	}
	for k, v := range in {
		if k != "Principal" {
			i[k] = v
		}
	}
	if !reflect.DeepEqual(o, i) {
		return false
	}
	inSet := principalSet(in["Principal"])
	for p := range principalSet(out["Principal"]) {
		if !inSet[p] {
			return false
		}
	}
	return true
}

func principalSet(p any) map[string]bool {
	set := map[string]bool{}
	switch v := p.(type) {
	case string:
		set["*:"+v] = true
	case map[string]any:
		for typ, vals := range v {
			switch vv := vals.(type) {
			case string:
				set[typ+":"+vv] = true
			case []any:
				for _, x := range vv {
					set[fmt.Sprint(typ, ":", x)] = true
				}
			}
		}
	}
	return set
}

// corpusFiles returns the trust policies of the shared corpus and the
// CloudTrail records that carry one, or fails when the copy is absent.
func corpusFiles(t testing.TB) map[string][]byte {
	t.Helper()
	root := filepath.Join("..", "..", "testdata", "corpus")
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("corpus not found at %s: %v", root, err)
	}
	out := map[string][]byte{}
	trustFiles, _ := filepath.Glob(filepath.Join(root, "trust", "*.json"))
	for _, f := range trustFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = data
	}
	ctFiles, _ := filepath.Glob(filepath.Join(root, "cloudtrail", "*.json"))
	for _, f := range ctFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if doc, ok := trustFromRecord(data); ok {
			out[filepath.Base(f)] = doc
		}
	}
	if len(out) == 0 {
		t.Fatalf("corpus at %s holds no trust policies; `make corpus` refreshes testdata/corpus", root)
	}
	return out
}

// trustFromRecord extracts the trust policy a CloudTrail record (bare or in
// an EventBridge envelope) carries in its request (cloudtrail.TrustDocument).
func trustFromRecord(data []byte) ([]byte, bool) {
	rec, err := cloudtrail.TrustDocument(data)
	if err != nil || rec.TrustPolicy == "" {
		return nil, false
	}
	return []byte(rec.TrustPolicy), true
}

// invalidCorpus lists corpus documents IAM itself would refuse, and why.
var invalidCorpus = map[string]string{
	"external-id__sumologic-aws-lambda__3.json":    "CloudFormation intrinsic {\"Ref\": …} left in a condition value",
	"oidc-other__eks-pod-identity-webhook__1.json": "a documentation comment member inside Condition",
	"other__cfn-nag__1.json":                       "Principal is a placeholder string, not \"*\" or an object",
}

// TestCorpus runs the engine over every trust policy of the shared corpus:
// no error on valid input, a typed error on the documents IAM refuses, and
// the invariants on all of them.
func TestCorpus(t *testing.T) {
	files := corpusFiles(t)
	zones := []Zone{testZone, {Account: "123456789012"}, {Account: "000000000000", TrustedAccounts: []string{"111122223333", "123456789012"}, TrustedOrgIDs: []string{"o-a1b2c3d4e5"}}}
	changed := 0
	for name, data := range files {
		doc, err := policy.Parse(data)
		if why, bad := invalidCorpus[name]; bad {
			var perr *policy.Error
			if err == nil || !asPolicyError(err, &perr) {
				t.Errorf("%s (%s): Parse error = %v, want a *policy.Error", name, why, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, z := range zones {
			checkInvariants(t, doc, z)
		}
		if res, _ := Restrict(doc, zones[1]); res.Changed {
			changed++
		}
	}
	t.Logf("%d corpus policies checked in %d zones; %d changed for account 123456789012", len(files), len(zones), changed)
}

func asPolicyError(err error, target **policy.Error) bool {
	pe, ok := err.(*policy.Error)
	*target = pe
	return ok
}

// Building blocks for the property test: principals and conditions of every
// kind the engine distinguishes, in and out of the zone.
var (
	genAWS = []string{"*", "111122223333", "444455556666", "999988887777", "arn:aws:iam::111122223333:root",
		"arn:aws:iam::999988887777:root", "arn:aws:iam::111122223333:role/a/b", "arn:aws:iam::999988887777:user/u",
		"arn:aws:sts::444455556666:assumed-role/R/s", "AROAZFRV7IUIVTOGNCJUN", "arn:aws-cn:iam::111122223333:root", "bogus"}
	genService   = []string{"lambda.amazonaws.com", "ec2.amazonaws.com", "EVIL", "states.us-east-1.amazonaws.com"}
	genFederated = []string{"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com",
		"arn:aws:iam::999988887777:saml-provider/x", "arn:aws:iam::111122223333:saml-provider/x", "cognito-identity.amazonaws.com", "accounts.google.com"}
	genConditions = []string{"",
		`{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`,
		`{"StringEquals":{"aws:PrincipalOrgID":"o-zzzzzzzzzz"}}`,
		`{"StringEqualsIfExists":{"aws:PrincipalAccount":"111122223333"}}`,
		`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}`,
		`{"StringEquals":{"aws:SourceAccount":"999988887777"}}`,
		`{"StringEquals":{"aws:SourceAccount":"111122223333"}}`,
		`{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:org/*"}}`,
		`{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:x","sts:ExternalId":"e"}}`,
		`{"StringNotEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`,
		`{"StringNotEqualsIfExists":{"aws:PrincipalAccount":["111122223333","999988887777"]}}`,
		`{"Null":{"aws:PrincipalOrgID":"false"},"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`,
		`{"StringLike":{"aws:SourceAccount":"9999*"}}`,
		`{"StringNotLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}`,
	}
)

func genPolicy(r *rand.Rand) string {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	values := func(pool []string) string {
		n := 1 + r.IntN(3)
		if n == 1 && r.IntN(2) == 0 {
			b, _ := json.Marshal(pick(pool))
			return string(b)
		}
		var vs []string
		for range n {
			vs = append(vs, pick(pool))
		}
		b, _ := json.Marshal(vs)
		return string(b)
	}
	var stmts []string
	for range 1 + r.IntN(4) {
		var s strings.Builder
		s.WriteString(`{`)
		if r.IntN(2) == 0 {
			fmt.Fprintf(&s, `"Sid":"S%d",`, r.IntN(100))
		}
		effect := "Allow"
		if r.IntN(6) == 0 {
			effect = "Deny"
		}
		fmt.Fprintf(&s, `"Effect":%q,`, effect)
		elem := "Principal"
		if r.IntN(10) == 0 {
			elem = "NotPrincipal"
		}
		if r.IntN(8) == 0 {
			fmt.Fprintf(&s, `%q:"*"`, elem)
		} else {
			var types []string
			for _, typ := range r.Perm(3)[:1+r.IntN(3)] {
				pool := [][]string{genAWS, genService, genFederated}[typ]
				types = append(types, fmt.Sprintf("%q:%s", []string{"AWS", "Service", "Federated"}[typ], values(pool)))
			}
			fmt.Fprintf(&s, `%q:{%s}`, elem, strings.Join(types, ","))
		}
		s.WriteString(`,"Action":"sts:AssumeRole"`)
		if c := pick(genConditions); c != "" {
			s.WriteString(`,"Condition":` + c)
		}
		s.WriteString(`}`)
		stmts = append(stmts, s.String())
	}
	if len(stmts) == 1 && r.IntN(2) == 0 {
		return `{"Version":"2012-10-17","Statement":` + stmts[0] + `}`
	}
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

// TestProperties checks the invariants on thousands of generated policies.
func TestProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for range n {
		src := genPolicy(r)
		doc, err := policy.Parse([]byte(src))
		if err != nil {
			t.Fatalf("generated policy does not parse: %v\n%s", err, src)
		}
		checkInvariants(t, doc, testZone)
	}
}

// FuzzRestrict feeds arbitrary bytes to the parser and the engine: no panic,
// and on every document that parses, the invariants hold.
func FuzzRestrict(f *testing.F) {
	for _, data := range corpusFilesForFuzz() {
		f.Add(data)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		f.Add([]byte(genPolicy(r)))
	}
	// Issue 22: shared-issuer subjects in both GitHub forms and STS claim keys.
	for _, cond := range []string{ghCond("StringLike", "sub", "repo:acme-corp@123456/*"), ghCond("StringLike", "sub", "repo:evil/*"),
		ghCond("StringEquals", "repository_owner_id", "123456"), ghCond("StringEquals", "repository", "acme-corp/app")} {
		f.Add([]byte(web(ghIssuer, cond)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := policy.Parse(data)
		if err != nil {
			return
		}
		if trimmed := strings.TrimSpace(string(data)); !strings.HasPrefix(trimmed, "%") && !json.Valid([]byte(trimmed)) {
			t.Fatalf("Parse accepted invalid JSON: %q", data)
		}
		checkInvariants(t, doc, testZone)
		checkInvariants(t, doc, tenantZone)
		checkTenantsOnlyRemove(t, doc)
	})
}

// checkTenantsOnlyRemove: configuring trusted OIDC tenants only ever keeps
// fewer principals (issue 22 §5).
func checkTenantsOnlyRemove(t *testing.T, doc *policy.Document) {
	t.Helper()
	without, err1 := Restrict(doc, testZone)
	with, err2 := Restrict(doc, tenantZone)
	if err1 != nil || err2 != nil {
		t.Fatalf("Restrict: %v / %v", err1, err2)
	}
	for i := range with.Principals {
		if with.Principals[i].Trusted && !without.Principals[i].Trusted {
			t.Fatalf("principal %s kept only with trusted tenants: %s", with.Principals[i].String(), with.Principals[i].Reason)
		}
	}
}

func corpusFilesForFuzz() [][]byte {
	root := filepath.Join("..", "..", "testdata", "corpus", "trust")
	files, _ := filepath.Glob(filepath.Join(root, "*.json"))
	var out [][]byte
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			out = append(out, data)
		}
	}
	return out
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestCorpusGolden pins the verdict on every corpus policy for account
// 123456789012 (which none of them names, so every account principal is
// foreign) in testdata/corpus.golden: one line per file with what is removed
// and the restricted policy. Any change in the engine's judgement shows up as
// a reviewable diff; run with -update to accept it.
func TestCorpusGolden(t *testing.T) {
	files := corpusFiles(t)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	z := Zone{Account: "123456789012", TrustedOrgIDs: []string{"o-a1b2c3d4e5"}}
	var b strings.Builder
	for _, name := range names {
		doc, err := policy.Parse(files[name])
		if err != nil {
			fmt.Fprintf(&b, "%s\terror\t%v\n", name, err)
			continue
		}
		res, err := Restrict(doc, z)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var removed, flagged []string
		for _, f := range res.Findings {
			if f.Removed {
				removed = append(removed, f.Principal)
			} else {
				flagged = append(flagged, f.Principal)
			}
		}
		after := "unchanged"
		if res.Changed {
			after = res.Policy.String()
		}
		fmt.Fprintf(&b, "%s\tremoved=%q\tflagged=%q\trevoke=%v\t%s\n", name, removed, flagged, res.RemovedExternal, after)
	}
	golden := filepath.Join("testdata", "corpus.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("first difference at line %d:\n got: %s\nwant: %s\n(run go test -update if the change is intended)", i+1, g, w)
				break
			}
		}
	}
}
