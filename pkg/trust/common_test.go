package trust

import (
	"testing"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

func TestCommon(t *testing.T) {
	const (
		own     = `{"AWS":"arn:aws:iam::111122223333:root"}`
		partner = `{"AWS":"arn:aws:iam::444455556666:root"}`
		both    = `{"AWS":["arn:aws:iam::111122223333:root","arn:aws:iam::444455556666:root"]}`
		lambda  = `{"Service":"lambda.amazonaws.com"}`
		denyExt = `{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`
	)
	withDeny := func(doc string) string { return doc[:len(doc)-2] + `,` + denyExt + `]}` }
	tests := []struct {
		name, a, b, want string
	}{
		{"same document", stmt(both, ""), stmt(both, ""), stmt(both, "")},
		{"a principal b leaves out is removed", stmt(both, ""), stmt(own, ""), stmt(own, "")},
		{"b's extra principals are not added", stmt(own, ""), stmt(both, ""), stmt(own, "")},
		{"nothing in common: deny-all", stmt(partner, ""), stmt(lambda, ""), denyAll},
		{"a's condition stays", stmt(own, `{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`), stmt(both, ""),
			stmt(own, `{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`)},
		{"b's Deny statements are added", stmt(both, ""), withDeny(stmt(both, "")), withDeny(stmt(both, ""))},
		{"a's Deny statements stay, once", withDeny(stmt(both, "")), withDeny(stmt(own, "")), withDeny(stmt(own, ""))},
		{"values compare as written", stmt(`{"AWS":"111122223333"}`, ""), stmt(own, ""), denyAll},
		{"NotPrincipal Allow is dropped", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":` + partner + `,"Action":"sts:AssumeRole"}]}`,
			stmt(own, ""), denyAll},
		{"bare wildcard only against a bare wildcard", stmt(`"*"`, ""), stmt(own, ""), denyAll},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, want := mustDoc(t, tt.a), mustDoc(t, tt.b), mustDoc(t, tt.want)
			got := Common(a, b)
			if !policy.Equivalent(got, want) {
				t.Errorf("Common =\n%s\nwant\n%s", must(got.MarshalJSON()), tt.want)
			}
			// Whatever the inputs, the result admits no Allow principal
			// that b does not name (the property the engine relies on).
			res, err := Analyze(got, testZone)
			if err != nil {
				t.Fatal(err)
			}
			named, _ := Analyze(b, testZone)
			for _, p := range res.Principals {
				if p.Effect != string(policy.Allow) {
					continue
				}
				found := false
				for _, q := range named.Principals {
					found = found || q.Effect == p.Effect && q.Type == p.Type && q.Value == p.Value
				}
				if !found {
					t.Errorf("Common admits %s:%s, which b does not name", p.Type, p.Value)
				}
			}
		})
	}
}

func mustDoc(t *testing.T, s string) *policy.Document {
	t.Helper()
	d, err := policy.Parse([]byte(s))
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return d
}

func must(b []byte, err error) string {
	if err != nil {
		return err.Error()
	}
	return string(b)
}
