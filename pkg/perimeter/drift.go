package perimeter

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// Policy types as AWS Organizations names them (AWS::Organizations::Policy
// Type; Organizations API reference, CreatePolicy).
const (
	TypeRCP = "RESOURCE_CONTROL_POLICY"
	TypeSCP = "SERVICE_CONTROL_POLICY"
)

// Document is one rendered organization policy with the name it is
// deployed under.
type Document struct {
	Name    string
	Type    string
	Content []byte
}

// PolicyName is the name of the i-th (from 1) document of a type: the name
// prefix of the guardrail's resources, "-Perimeter-", "RCP" or "SCP" and
// the number, so that a sweep can tell the guardrail's policies from the
// organization's others.
func PolicyName(namePrefix, typ string, i int) string {
	kind := "SCP"
	if typ == TypeRCP {
		kind = "RCP"
	}
	return fmt.Sprintf("%s-Perimeter-%s-%d", namePrefix, kind, i)
}

// Render returns every document RCPs and SCPs build, named by PolicyName
// with l's NamePrefix: the RCPs of z (exempting l.ExemptRoles, the same
// exemptions), then the SCPs of l.
func Render(z trust.Zone, l lockdown.Config, opts SCPOptions) ([]Document, error) {
	prefix := l.NamePrefix
	if prefix == "" {
		prefix = lockdown.DefaultNamePrefix
	}
	rcps, err := RCPs(z, l.ExemptRoles)
	if err != nil {
		return nil, err
	}
	scps, err := SCPs(l, opts)
	if err != nil {
		return nil, err
	}
	var out []Document
	for i, d := range rcps {
		out = append(out, Document{Name: PolicyName(prefix, TypeRCP, i+1), Type: TypeRCP, Content: d})
	}
	for i, d := range scps {
		out = append(out, Document{Name: PolicyName(prefix, TypeSCP, i+1), Type: TypeSCP, Content: d})
	}
	return out, nil
}

// Deployed is an organization policy as Organizations reports it
// (DescribePolicy, ListTargetsForPolicy).
type Deployed struct {
	Name    string
	Type    string
	ARN     string // the policy's ARN, naming the management account
	Content string
	Targets []string
}

// Drift is one way the deployed policies differ from what the
// configuration renders.
type Drift struct {
	Policy string `json:"policy"`
	// ARN is the deployed policy's ARN; "" for a missing one.
	ARN string `json:"arn,omitempty"`
	// Targets are, for a detached policy, the targets it is missing from.
	Targets []string `json:"targets,omitempty"`
	// Kind is "missing" (rendered, not deployed), "edited" (deployed with
	// other content: edited by hand, or the configuration changed without
	// a redeployment), "detached" (not attached to a target it should be),
	// or "unexpected" (a guardrail policy that is no longer rendered).
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// Compare returns how the deployed policies differ from want, each
// attached to every one of targets. Only deployed policies whose name
// starts with prefix+"-Perimeter-" are the guardrail's; content is
// compared as JSON values, so a reformatting is no drift. The result is in
// want's order, then the unexpected ones by name.
func Compare(want []Document, targets []string, prefix string, got []Deployed) []Drift {
	byName := map[string]Deployed{}
	for _, d := range got {
		byName[d.Name] = d
	}
	var out []Drift
	for _, w := range want {
		d, ok := byName[w.Name]
		delete(byName, w.Name)
		if !ok {
			out = append(out, Drift{Policy: w.Name, Kind: "missing", Detail: "rendered by the configuration, not deployed"})
			continue
		}
		switch {
		case d.Type != w.Type:
			out = append(out, Drift{Policy: w.Name, ARN: d.ARN, Kind: "edited", Detail: "deployed as a " + d.Type + ", rendered as a " + w.Type})
		case !sameJSON(w.Content, []byte(d.Content)):
			out = append(out, Drift{Policy: w.Name, ARN: d.ARN, Kind: "edited", Detail: "the deployed content differs from the rendered document (edited, or the configuration changed without a redeployment): " +
				statementDiff(w.Content, []byte(d.Content))})
		}
		var missing []string
		for _, t := range targets {
			if !slices.Contains(d.Targets, t) {
				missing = append(missing, t)
			}
		}
		if len(missing) > 0 {
			out = append(out, Drift{Policy: w.Name, ARN: d.ARN, Kind: "detached", Targets: missing, Detail: "not attached to " + strings.Join(missing, ", ")})
		}
	}
	var rest []string
	for name := range byName {
		if strings.HasPrefix(name, prefix+"-Perimeter-") {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range rest {
		out = append(out, Drift{Policy: name, ARN: byName[name].ARN, Kind: "unexpected", Detail: "a guardrail perimeter policy the configuration no longer renders"})
	}
	return out
}

// statementDiff says which statements of the deployed document differ from
// the rendered one, by Sid (every statement the package renders has one;
// a statement without is named by its position): those only rendered,
// those only deployed, and those deployed with other content. A document
// that is not a policy is said to be so.
func statementDiff(want, got []byte) string {
	w, errW := statementsBySid(want)
	g, errG := statementsBySid(got)
	if errW != nil || errG != nil {
		return "the deployed content is not a policy document"
	}
	var missing, added, changed []string
	for sid, st := range w {
		other, ok := g[sid]
		switch {
		case !ok:
			missing = append(missing, sid)
		case !reflect.DeepEqual(st, other):
			changed = append(changed, sid)
		}
	}
	for sid := range g {
		if _, ok := w[sid]; !ok {
			added = append(added, sid)
		}
	}
	var parts []string
	for _, p := range []struct {
		what string
		sids []string
	}{{"statements removed", missing}, {"statements added", added}, {"statements changed", changed}} {
		if len(p.sids) > 0 {
			slices.Sort(p.sids)
			parts = append(parts, p.what+": "+strings.Join(p.sids, ", "))
		}
	}
	if len(parts) == 0 {
		return "the statements are the same, the rest of the document differs"
	}
	return strings.Join(parts, "; ")
}

// statementsBySid returns a policy document's statements by Sid, or
// "#<index>" for one without.
func statementsBySid(doc []byte) (map[string]any, error) {
	var d struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	var list []any
	if err := json.Unmarshal(d.Statement, &list); err != nil {
		var one any
		if err := json.Unmarshal(d.Statement, &one); err != nil {
			return nil, err
		}
		list = []any{one}
	}
	out := map[string]any{}
	for i, st := range list {
		sid := fmt.Sprintf("#%d", i)
		if m, ok := st.(map[string]any); ok {
			if s, ok := m["Sid"].(string); ok && s != "" {
				sid = s
			}
		}
		out[sid] = st
	}
	return out, nil
}

// sameJSON reports whether a and b hold equal JSON values; invalid JSON is
// never equal.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
