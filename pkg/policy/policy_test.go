package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustParse(t testing.TB, s string) *Document {
	t.Helper()
	d, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return d
}

func compact(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("compact: %v", err)
	}
	return b.String()
}

func TestParseForms(t *testing.T) {
	d := mustParse(t, `{
	  "Version": "2012-10-17",
	  "Id": "trust-1",
	  "Statement": [
	    {"Sid": "Star", "Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole",
	     "Condition": {"StringEquals": {"aws:PrincipalOrgID": ["o-a1b2c3d4e5"]}, "Bool": {"aws:SecureTransport": true}, "NumericLessThan": {"aws:MultiFactorAuthAge": 3600}}},
	    {"Effect": "Allow", "Principal": {"AWS": ["111122223333", "arn:aws:iam::444455556666:root"], "Service": "ec2.amazonaws.com"},
	     "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": "*"},
	    {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:role/Admin"}, "NotAction": "sts:GetCallerIdentity", "NotResource": ["arn:aws:iam::111122223333:role/x"]}
	  ]
	}`)
	if d.Version != "2012-10-17" || d.ID != "trust-1" || len(d.Statements) != 3 {
		t.Fatalf("document = %+v", d)
	}
	s0, s1, s2 := d.Statements[0], d.Statements[1], d.Statements[2]
	if s0.Sid != "Star" || s0.Effect != Allow || !s0.Principal.Wildcard || s0.Principal.Len() != 1 {
		t.Errorf("statement 0 = %+v", s0)
	}
	var gotCond []string
	for _, op := range s0.Condition {
		for _, k := range op.Keys {
			gotCond = append(gotCond, op.Operator+" "+k.Key+"="+strings.Join(k.Values, ","))
		}
	}
	if want := "StringEquals aws:PrincipalOrgID=o-a1b2c3d4e5|Bool aws:SecureTransport=true|NumericLessThan aws:MultiFactorAuthAge=3600"; strings.Join(gotCond, "|") != want {
		t.Errorf("condition = %q, want %q", gotCond, want)
	}
	if s0.Action.List || !reflect.DeepEqual(s0.Action.Items, []string{"sts:AssumeRole"}) {
		t.Errorf("action = %+v", s0.Action)
	}
	wantTypes := []PrincipalType{
		{Name: "AWS", Values: []string{"111122223333", "arn:aws:iam::444455556666:root"}, List: true},
		{Name: "Service", Values: []string{"ec2.amazonaws.com"}},
	}
	if !reflect.DeepEqual(s1.Principal.Types, wantTypes) || s1.Principal.Len() != 3 {
		t.Errorf("principal types = %+v", s1.Principal.Types)
	}
	if !s1.Action.List || len(s1.Action.Items) != 2 || s1.Resource.List || s1.Resource.Items[0] != "*" {
		t.Errorf("action/resource = %+v %+v", s1.Action, s1.Resource)
	}
	if s2.Effect != Deny || s2.Principal != nil || s2.NotPrincipal == nil || s2.NotAction == nil || !s2.NotResource.List {
		t.Errorf("statement 2 = %+v", s2)
	}

	one := mustParse(t, `{"Statement":{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}}`)
	if len(one.Statements) != 1 || one.Version != "" || one.Statements[0].Principal.Types[0].Name != "Federated" {
		t.Errorf("single statement = %+v", one)
	}
}

func TestParseURLEncoded(t *testing.T) {
	plain := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"a b+c/d=e&f?g#h%i é"}}}]}`
	// IAM encodes per RFC 3986: space is %20, '+' is %2B (url.PathEscape does the same for these).
	encoded := strings.ReplaceAll(url.QueryEscape(plain), "+", "%20")
	d := mustParse(t, encoded)
	if got := d.Statements[0].Condition[0].Keys[0].Values[0]; got != "a b+c/d=e&f?g#h%i é" {
		t.Errorf("decoded value = %q", got)
	}
	if d.String() != plain {
		t.Errorf("round trip = %s", d.String())
	}
	if _, err := Parse([]byte("%7B%ZZ")); err == nil {
		t.Error("invalid URL encoding accepted")
	}
}

// TestRoundTripCorpus: a document nobody changed is written back as its
// source without white space, for every trust policy of the shared corpus.
func TestRoundTripCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "corpus", "trust", "*.json"))
	if len(files) == 0 {
		t.Fatal("corpus not found in testdata/corpus")
	}
	parsed := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Parse(data)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Errorf("%s: untyped error %v", f, err)
			}
			continue
		}
		parsed++
		if got, want := d.String(), compact(t, string(data)); got != want {
			t.Errorf("%s: round trip\n got: %s\nwant: %s", f, got, want)
		}
		if !Equivalent(d, mustParse(t, d.String())) {
			t.Errorf("%s: not equivalent to its own output", f)
		}
	}
	t.Logf("%d of %d corpus documents round-tripped", parsed, len(files))
}

func TestRewriteKeepsShape(t *testing.T) {
	d := mustParse(t, `{"Statement":[
		{"Sid":"A","Effect":"Allow","Principal":{"AWS":["1","2"],"Service":"s.amazonaws.com","Federated":["f"]},"Action":"sts:AssumeRole","Unknown":{"x":[true,null,1.5e-3,"\u00e9"]}},
		{"Effect":"Deny","Principal":"*","Action":"sts:*"}],"Version":"2012-10-17","X":1}`)
	s := d.Statements[0]
	p := s.Principal.Filter(func(typ, v string) bool { return v != "1" && typ != "Federated" })
	out := d.WithStatements([]*Statement{s.WithPrincipal(p), d.Statements[1]}).String()
	want := `{"Statement":[{"Sid":"A","Effect":"Allow","Principal":{"AWS":["2"],"Service":"s.amazonaws.com"},"Action":"sts:AssumeRole","Unknown":{"x":[true,null,1.5e-3,"\u00e9"]}},{"Effect":"Deny","Principal":"*","Action":"sts:*"}],"Version":"2012-10-17","X":1}`
	if out != want {
		t.Errorf("rewrite\n got: %s\nwant: %s", out, want)
	}
	// The original is untouched.
	if d.Statements[0].Principal.Len() != 4 {
		t.Errorf("original changed: %s", d.String())
	}
	if p := s.Principal.Filter(func(string, string) bool { return false }); p != nil {
		t.Errorf("Filter keeping nothing = %+v, want nil", p)
	}
	if got := d.WithStatements([]*Statement{s.WithPrincipal(nil)}).String(); got != `{"Statement":[{"Sid":"A","Effect":"Allow","Action":"sts:AssumeRole","Unknown":{"x":[true,null,1.5e-3,"\u00e9"]}}],"Version":"2012-10-17","X":1}` {
		t.Errorf("statement without principal = %s", got)
	}
	single := mustParse(t, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}`)
	if got := single.WithStatements(append(single.Statements, single.Statements[0])).String(); !strings.Contains(got, `"Statement":[{`) {
		t.Errorf("two statements must be a list: %s", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, path, msg string
	}{
		{"empty", ``, "", "unexpected end"},
		{"not JSON", `{"Statement": [}`, "", "looking for a value"},
		{"trailing data", `{"Statement":[]} {}`, "", "after the top-level value"},
		{"array document", `[]`, "(document)", "must be a JSON object"},
		{"no statement", `{"Version":"2012-10-17"}`, "Statement", "missing"},
		{"statement string", `{"Statement":"x"}`, "Statement", "object or a list"},
		{"statement element not object", `{"Statement":[{"Effect":"Allow"},1]}`, "Statement[1]", "must be an object"},
		{"bad version", `{"Version":"2020-01-01","Statement":[]}`, "Version", "unknown policy version"},
		{"version number", `{"Version":2012,"Statement":[]}`, "Version", "must be a string"},
		{"no effect", `{"Statement":[{"Principal":"*"}]}`, "Statement[0].Effect", "missing"},
		{"bad effect", `{"Statement":[{"Effect":"allow"}]}`, "Statement[0].Effect", "must be \"Allow\" or \"Deny\""},
		{"principal string", `{"Statement":[{"Effect":"Allow","Principal":"arn:aws:iam::111122223333:root"}]}`, "Statement[0].Principal", "must be \"*\""},
		{"principal number", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":111122223333}}]}`, "Statement[0].Principal.AWS", "string or a list"},
		{"principal list item", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["a",{}]}}]}`, "Statement[0].Principal.AWS[1]", "must be a string"},
		{"principal array", `{"Statement":[{"Effect":"Allow","Principal":["*"]}]}`, "Statement[0].Principal", "must be \"*\" or an object"},
		{"action number", `{"Statement":[{"Effect":"Allow","Action":1}]}`, "Statement[0].Action", "string or a list"},
		{"condition list", `{"Statement":[{"Effect":"Allow","Condition":[]}]}`, "Statement[0].Condition", "object of operators"},
		{"condition operator string", `{"Statement":[{"Effect":"Allow","Condition":{"StringEquals":"x"}}]}`, "Statement[0].Condition.StringEquals", "object of condition keys"},
		{"condition value object", `{"Statement":[{"Effect":"Allow","Condition":{"StringEquals":{"k":{"Ref":"x"}}}}]}`, "Statement[0].Condition.StringEquals.k", "not object"},
		{"condition list item null", `{"Statement":[{"Effect":"Allow","Condition":{"StringEquals":{"k":["a",null]}}}]}`, "Statement[0].Condition.StringEquals.k[1]", "not null"},
		{"duplicate key", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"1"},"Principal":"*"}]}`, "", "duplicate key \"Principal\""},
		{"case variant key", `{"Statement":[{"Effect":"Allow","principal":"*"}]}`, "Statement[0].principal", "case-sensitive"},
		{"case variant top key", `{"statement":[],"Statement":[]}`, "statement", "case-sensitive"},
		{"principal and not principal", `{"Statement":[{"Effect":"Allow","Principal":"*","NotPrincipal":"*"}]}`, "Statement[0]", "mutually exclusive"},
		{"action and not action", `{"Statement":[{"Effect":"Allow","Action":"a","NotAction":"b"}]}`, "Statement[0]", "mutually exclusive"},
		{"bad escape", `{"Statement":[{"Effect":"Allow","Sid":"\x"}]}`, "", "invalid escape"},
		{"control character", "{\"Statement\":[{\"Effect\":\"Allow\",\"Sid\":\"a\tb\"}]}", "", "control character"},
		{"bad number", `{"Statement":[{"Effect":"Allow","Condition":{"NumericEquals":{"k":01}}}]}`, "", "expected ','"},
		{"deep nesting", `{"Statement":[{"Effect":"Allow","X":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}]}`, "", "nested too deeply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error = %v (%T), want *policy.Error", err, err)
			}
			if perr.Path != tc.path || !strings.Contains(perr.Msg, tc.msg) {
				t.Errorf("error = path %q msg %q, want path %q msg containing %q", perr.Path, perr.Msg, tc.path, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "policy: ") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestEquivalent(t *testing.T) {
	base := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333","Service":["ec2.amazonaws.com","lambda.amazonaws.com"]},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"}}},{"Effect":"Deny","Principal":"*","Action":"sts:TagSession"}]}`
	for _, tc := range []struct {
		name  string
		other string
		want  bool
	}{
		{"identical", base, true},
		{"white space and member order", `{ "Statement" : [ {"Action":["sts:AssumeRole"], "Effect":"Allow", "Condition":{"StringEquals":{"AWS:SourceAccount":["111122223333"]}}, "Principal":{"Service":["lambda.amazonaws.com","ec2.amazonaws.com"],"AWS":["arn:aws:iam::111122223333:root"]}}, {"Effect":"Deny","Principal":{"AWS":"*"},"Action":"STS:TagSession"} ], "Version":"2012-10-17" }`, true},
		{"statement order", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"sts:TagSession"},{"Effect":"Allow","Principal":{"AWS":"111122223333","Service":["ec2.amazonaws.com","lambda.amazonaws.com"]},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"}}}]}`, true},
		{"extra principal", strings.Replace(base, `"AWS":"111122223333"`, `"AWS":["111122223333","999988887777"]`, 1), false},
		{"other account", strings.Replace(base, `"AWS":"111122223333"`, `"AWS":"999988887777"`, 1), false},
		{"condition removed", strings.Replace(base, `,"Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"}}`, ``, 1), false},
		{"effect changed", strings.Replace(base, `"Effect":"Deny"`, `"Effect":"Allow"`, 1), false},
		{"version changed", strings.Replace(base, `2012-10-17`, `2008-10-17`, 1), false},
	} {
		if got := Equivalent(mustParse(t, base), mustParse(t, tc.other)); got != tc.want {
			t.Errorf("%s: Equivalent = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !Equivalent(nil, nil) || Equivalent(mustParse(t, base), nil) {
		t.Error("nil handling")
	}
}

// FuzzParse: Parse never panics, accepts only valid JSON, and writes back a
// document that decodes to the same JSON value as its input.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "corpus", "trust", "*.json"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"Statement":{"Effect":"Allow","Principal":"*","Condition":{"Bool":{"a":[true,1,"\u00e9\ud83d\ude00"]}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		out := d.String()
		if !json.Valid([]byte(out)) {
			t.Fatalf("output not valid JSON: %s", out)
		}
		if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] != '%' {
			if !json.Valid(trimmed) {
				t.Fatalf("accepted invalid JSON: %q", data)
			}
			var a, b any
			if err := json.Unmarshal(trimmed, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(out), &b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("round trip changed the document:\n in: %s\nout: %s", data, out)
			}
		}
		if !Equivalent(d, d) {
			t.Fatal("not equivalent to itself")
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data := []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"}}}]}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseCorpus measures Parse alone over every corpus trust policy.
func BenchmarkParseCorpus(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "corpus", "trust", "*.json"))
	var docs [][]byte
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			if _, err := Parse(data); err == nil {
				docs = append(docs, data)
			}
		}
	}
	if len(docs) == 0 {
		b.Fatal("corpus not found in testdata/corpus")
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := Parse(docs[i%len(docs)]); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWithNotPrincipal(t *testing.T) {
	d := mustParse(t, `{"Statement":[{"Sid":"D","Effect":"Deny","NotPrincipal":{"AWS":["a","b"]},"Action":"sts:AssumeRole"}]}`)
	s := d.Statements[0]
	np := s.NotPrincipal.Filter(func(_, v string) bool { return v != "a" })
	if got, want := d.WithStatements([]*Statement{s.WithNotPrincipal(np)}).String(), `{"Statement":[{"Sid":"D","Effect":"Deny","NotPrincipal":{"AWS":["b"]},"Action":"sts:AssumeRole"}]}`; got != want {
		t.Errorf("filtered NotPrincipal\n got: %s\nwant: %s", got, want)
	}
	star := &Principal{Types: []PrincipalType{{Name: "AWS", Values: []string{"*"}}}}
	if got, want := d.WithStatements([]*Statement{s.WithNotPrincipal(nil).WithPrincipal(star)}).String(), `{"Statement":[{"Sid":"D","Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`; got != want {
		t.Errorf("NotPrincipal replaced by Principal\n got: %s\nwant: %s", got, want)
	}
}
