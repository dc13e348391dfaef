package perimeter

import (
	"reflect"
	"testing"
)

func TestCompare(t *testing.T) {
	docs, err := Render(defaultZone, defaultLockdown, SCPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Name != "IamRoleGuardrail-Perimeter-RCP-1" || docs[1].Name != "IamRoleGuardrail-Perimeter-SCP-1" ||
		docs[0].Type != TypeRCP || docs[1].Type != TypeSCP {
		t.Fatalf("Render: %+v", docs)
	}
	targets := []string{"ou-abcd-11111111", "ou-abcd-22222222"}
	deployed := func() []Deployed {
		var out []Deployed
		for _, d := range docs {
			// Organizations keeps the content as written; a reformatted
			// copy is no drift.
			out = append(out, Deployed{Name: d.Name, Type: d.Type, Content: " " + string(d.Content) + "\n", Targets: targets})
		}
		return append(out, Deployed{Name: "FullAWSAccess", Type: TypeSCP, Content: "{}", Targets: targets})
	}
	for _, tc := range []struct {
		name   string
		change func([]Deployed) []Deployed
		want   []Drift
	}{
		{"in step", func(d []Deployed) []Deployed { return d }, nil},
		{"RCP deleted", func(d []Deployed) []Deployed { return d[1:] },
			[]Drift{{Policy: "IamRoleGuardrail-Perimeter-RCP-1", Kind: "missing"}}},
		{"SCP edited", func(d []Deployed) []Deployed {
			d[1].Content = `{"Version":"2012-10-17","Statement":[]}`
			return d
		}, []Drift{{Policy: "IamRoleGuardrail-Perimeter-SCP-1", Kind: "edited"}}},
		{"RCP detached from one OU", func(d []Deployed) []Deployed { d[0].Targets = targets[:1]; return d },
			[]Drift{{Policy: "IamRoleGuardrail-Perimeter-RCP-1", Kind: "detached", Targets: targets[1:]}}},
		{"a second SCP no longer rendered", func(d []Deployed) []Deployed {
			return append(d, Deployed{Name: "IamRoleGuardrail-Perimeter-SCP-2", Type: TypeSCP, Content: "{}"})
		}, []Drift{{Policy: "IamRoleGuardrail-Perimeter-SCP-2", Kind: "unexpected"}}},
		{"type changed", func(d []Deployed) []Deployed { d[0].Type = TypeSCP; return d },
			[]Drift{{Policy: "IamRoleGuardrail-Perimeter-RCP-1", Kind: "edited"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Compare(docs, targets, "IamRoleGuardrail", tc.change(deployed()))
			for i := range got {
				if got[i].Detail == "" {
					t.Errorf("%+v has no detail", got[i])
				}
				got[i].Detail = ""
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Compare = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// An edited document names the statements that differ, by Sid.
func TestStatementDiff(t *testing.T) {
	want := []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Deny","Action":"a:b","Resource":"*"},{"Sid":"B","Effect":"Deny","Action":"c:d","Resource":"*"}]}`)
	for _, tc := range []struct{ got, want string }{
		{`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Deny","Action":"a:b","Resource":"*"}]}`, "statements removed: B"},
		{`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Deny","Action":"a:*","Resource":"*"},{"Sid":"B","Effect":"Deny","Action":"c:d","Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
			"statements added: #2; statements changed: A"},
		{`{"Version":"2008-10-17","Statement":[{"Sid":"A","Effect":"Deny","Action":"a:b","Resource":"*"},{"Sid":"B","Effect":"Deny","Action":"c:d","Resource":"*"}]}`,
			"the statements are the same, the rest of the document differs"},
		{`[]`, "the deployed content is not a policy document"},
	} {
		if got := statementDiff(want, []byte(tc.got)); got != tc.want {
			t.Errorf("statementDiff(%s) = %q, want %q", tc.got, got, tc.want)
		}
	}
}
