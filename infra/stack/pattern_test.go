package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/pkg/cloudtrail"
)

// match reports whether event matches an EventBridge event pattern, for the
// subset of the pattern language the stacks use: exact strings, prefix,
// suffix, anything-but (string, list, prefix or suffix), exists, nested
// objects and $or
// (EventBridge user guide, "Event patterns" and "Comparison operators").
// Anything else is a test error, so the matcher can never pass a pattern it
// does not understand.
func match(t *testing.T, pattern, event map[string]any) bool {
	t.Helper()
	for key, p := range pattern {
		if key == "$or" {
			alts, ok := p.([]any)
			if !ok || len(alts) < 2 {
				t.Fatalf("$or wants a list of at least two patterns, got %v", p)
			}
			matched := false
			for _, alt := range alts {
				sub, ok := alt.(map[string]any)
				if !ok {
					t.Fatalf("$or alternative %v is not an object", alt)
				}
				if match(t, sub, event) {
					matched = true
				}
			}
			if !matched {
				return false
			}
			continue
		}
		value, present := event[key]
		switch p := p.(type) {
		case map[string]any:
			// A nested pattern on an absent or non-object field sees every
			// field below it as absent.
			sub, _ := value.(map[string]any)
			if !match(t, p, sub) {
				return false
			}
		case []any:
			if !matchLeaf(t, p, value, present) {
				return false
			}
		default:
			t.Fatalf("pattern field %q: want an object or a list, got %T", key, p)
		}
	}
	return true
}

// matchLeaf reports whether a field matches any of a leaf's conditions.
func matchLeaf(t *testing.T, conds []any, value any, present bool) bool {
	t.Helper()
	if len(conds) == 0 {
		t.Fatal("empty condition list (EventBridge rejects it)")
	}
	str, isStr := value.(string)
	for _, c := range conds {
		switch c := c.(type) {
		case string:
			if isStr && str == c {
				return true
			}
		case map[string]any:
			if len(c) != 1 {
				t.Fatalf("operator object %v must have exactly one key", c)
			}
			for op, arg := range c {
				switch op {
				case "exists":
					want, ok := arg.(bool)
					if !ok {
						t.Fatalf("exists wants a boolean, got %v", arg)
					}
					if present == want {
						return true
					}
				case "prefix":
					pre, ok := arg.(string)
					if !ok {
						t.Fatalf("prefix wants a string, got %v", arg)
					}
					if isStr && strings.HasPrefix(str, pre) {
						return true
					}
				case "suffix":
					suf, ok := arg.(string)
					if !ok {
						t.Fatalf("suffix wants a string, got %v", arg)
					}
					if isStr && strings.HasSuffix(str, suf) {
						return true
					}
				case "anything-but":
					// anything-but matches only a present value.
					if present && isStr && !anythingBut(t, arg, str) {
						return true
					}
				default:
					t.Fatalf("operator %q is not supported by this matcher", op)
				}
			}
		default:
			t.Fatalf("condition %v (%T) is not supported by this matcher", c, c)
		}
	}
	return false
}

// anythingBut reports whether s is one of the excluded values.
func anythingBut(t *testing.T, arg any, s string) bool {
	t.Helper()
	switch a := arg.(type) {
	case string:
		return s == a
	case []any:
		for _, x := range a {
			xs, ok := x.(string)
			if !ok {
				t.Fatalf("anything-but list item %v is not a string", x)
			}
			if s == xs {
				return true
			}
		}
		return false
	case map[string]any:
		if pre, ok := a["prefix"].(string); ok && len(a) == 1 {
			return strings.HasPrefix(s, pre)
		}
		if suf, ok := a["suffix"].(string); ok && len(a) == 1 {
			return strings.HasSuffix(s, suf)
		}
	}
	t.Fatalf("anything-but argument %v is not supported by this matcher", arg)
	return false
}

func TestMatcher(t *testing.T) {
	pattern := map[string]any{
		"source": []any{"aws.iam"},
		"detail": map[string]any{
			"a": []any{map[string]any{"prefix": "x-"}},
			"$or": []any{
				map[string]any{"b": []any{map[string]any{"exists": false}}},
				map[string]any{"b": []any{map[string]any{"anything-but": []any{"no"}}}},
			},
		},
	}
	tests := []struct {
		name  string
		event string
		want  bool
	}{
		{"all match, b absent", `{"source":"aws.iam","detail":{"a":"x-1"}}`, true},
		{"b allowed", `{"source":"aws.iam","detail":{"a":"x-1","b":"yes"}}`, true},
		{"b excluded", `{"source":"aws.iam","detail":{"a":"x-1","b":"no"}}`, false},
		{"prefix fails", `{"source":"aws.iam","detail":{"a":"y-1"}}`, false},
		{"a absent", `{"source":"aws.iam","detail":{}}`, false},
		{"wrong source", `{"source":"aws.s3","detail":{"a":"x-1"}}`, false},
		{"no detail", `{"source":"aws.iam"}`, false},
	}
	for _, tt := range tests {
		var ev map[string]any
		if err := json.Unmarshal([]byte(tt.event), &ev); err != nil {
			t.Fatal(err)
		}
		if got := match(t, pattern, ev); got != tt.want {
			t.Errorf("%s: match = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// envelope wraps a bare CloudTrail record the way EventBridge delivers it.
func envelope(rec map[string]any) map[string]any {
	src, _ := rec["eventSource"].(string)
	return map[string]any{
		"version": "0", "id": "00000000-0000-0000-0000-000000000000",
		"detail-type": cloudtrail.DetailType,
		"source":      "aws." + strings.TrimSuffix(src, ".amazonaws.com"),
		"account":     "123456789012", "time": rec["eventTime"], "region": "us-east-1",
		"resources": []any{}, "detail": rec,
	}
}

type corpusEvent struct {
	name  string
	event map[string]any
}

// corpusEvents loads every real CloudTrail record of the shared corpus,
// wrapped in an envelope when it is a bare record.
func corpusEvents(t *testing.T) []corpusEvent {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "corpus", "cloudtrail")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("corpus not found at %s: the repository keeps a copy in testdata/corpus", dir)
	}
	var out []corpusEvent
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev map[string]any
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, ok := ev["detail"]; !ok {
			ev = envelope(ev)
		}
		out = append(out, corpusEvent{filepath.Base(f), ev})
	}
	return out
}

func detailOf(ev map[string]any) map[string]any {
	d, _ := ev["detail"].(map[string]any)
	return d
}

func identityType(ev map[string]any) string {
	ui, _ := detailOf(ev)["userIdentity"].(map[string]any)
	s, _ := ui["type"].(string)
	return s
}

func issuerARN(ev map[string]any) string {
	ui, _ := detailOf(ev)["userIdentity"].(map[string]any)
	sc, _ := ui["sessionContext"].(map[string]any)
	si, _ := sc["sessionIssuer"].(map[string]any)
	s, _ := si["arn"].(string)
	return s
}

// clone deep-copies a JSON value.
func clone(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkPatternOnCorpus checks a rule pattern (with the own roles' ARNs
// resolved to ownARNs and the lockdown policy's to lockdownARN) against
// every corpus record and against variants made from them for identity
// types and cases the corpus lacks (the corpus has no policy-version
// records: those are all variants).
func checkPatternOnCorpus(t *testing.T, pattern map[string]any, ownARNs []string, lockdownARN string) {
	events := corpusEvents(t)

	// Variants: the same successful calls made by the root user, by an
	// AWS service, by a role session without an issuer ARN, by the
	// guardrail's own roles, and a failed call.
	var base, assumed map[string]any
	var root map[string]any
	for _, e := range events {
		d := detailOf(e.event)
		switch {
		case base == nil && d["eventName"] == "CreateRole" && d["errorCode"] == nil && identityType(e.event) == "IAMUser":
			base = e.event
		case assumed == nil && d["eventName"] == "UpdateAssumeRolePolicy" && identityType(e.event) == "AssumedRole" && issuerARN(e.event) != "":
			assumed = e.event
		case identityType(e.event) == "Root":
			root, _ = d["userIdentity"].(map[string]any)
		}
	}
	if base == nil || assumed == nil || root == nil {
		t.Fatal("corpus lacks an IAMUser CreateRole, an AssumedRole UpdateAssumeRolePolicy or a Root record")
	}
	variant := func(name string, from map[string]any, edit func(d map[string]any)) {
		ev := clone(t, from)
		edit(detailOf(ev))
		events = append(events, corpusEvent{name, ev})
	}
	variant("variant: root user", base, func(d map[string]any) { d["userIdentity"] = root })
	variant("variant: AWS service", base, func(d map[string]any) {
		d["userIdentity"] = map[string]any{"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"}
	})
	for i, own := range ownARNs {
		variant(fmt.Sprintf("variant: guardrail role %d", i), assumed, func(d map[string]any) {
			d["userIdentity"].(map[string]any)["sessionContext"].(map[string]any)["sessionIssuer"].(map[string]any)["arn"] = own
		})
	}
	variant("variant: look-alike of a guardrail role", assumed, func(d map[string]any) {
		d["userIdentity"].(map[string]any)["sessionContext"].(map[string]any)["sessionIssuer"].(map[string]any)["arn"] = ownARNs[0] + "-Evil"
	})
	variant("variant: failed call", base, func(d map[string]any) { d["errorCode"] = "AccessDenied" })

	// Policy-version calls: on the lockdown policy by every identity
	// kind, including the guardrail's own roles (excluded), and on other
	// policies (never matched).
	policyCall := func(name, arn string) func(d map[string]any) {
		return func(d map[string]any) {
			d["eventName"] = name
			d["requestParameters"] = map[string]any{"policyArn": arn, "versionId": "v2"}
			if name == "CreatePolicyVersion" {
				d["requestParameters"] = map[string]any{"policyArn": arn, "policyDocument": `{"Version":"2012-10-17","Statement":[]}`, "setAsDefault": true}
			}
			d["responseElements"] = nil
		}
	}
	for _, name := range cloudtrail.LockdownPolicyEventNames {
		variant("variant: "+name+" of the lockdown by an IAM user", base, policyCall(name, lockdownARN))
		variant("variant: "+name+" of the lockdown by a role", assumed, policyCall(name, lockdownARN))
		variant("variant: "+name+" of the lockdown by the root user", base, func(d map[string]any) {
			policyCall(name, lockdownARN)(d)
			d["userIdentity"] = root
		})
		variant("variant: "+name+" of another policy", assumed, policyCall(name, strings.Replace(lockdownARN, "GuardrailLockdown", "AppPolicy", 1)))
		variant("variant: "+name+" of a look-alike policy", base, policyCall(name, lockdownARN+"2"))
		variant("variant: failed "+name+" of the lockdown", base, func(d map[string]any) {
			policyCall(name, lockdownARN)(d)
			d["errorCode"] = "AccessDenied"
		})
		for i, own := range ownARNs {
			variant(fmt.Sprintf("variant: %s of the lockdown by guardrail role %d", name, i), assumed, func(d map[string]any) {
				policyCall(name, lockdownARN)(d)
				d["userIdentity"].(map[string]any)["sessionContext"].(map[string]any)["sessionIssuer"].(map[string]any)["arn"] = own
			})
		}
	}
	// A role event whose parameters happen to name the lockdown policy
	// (AttachRolePolicy does) matches as a role event.
	variant("variant: AttachRolePolicy of the lockdown", assumed, func(d map[string]any) {
		d["eventName"] = "AttachRolePolicy"
		d["requestParameters"] = map[string]any{"roleName": "orders-api", "policyArn": lockdownARN}
	})

	matchedTypes, matchedPolicyEvents := map[string]int{}, map[string]int{}
	for _, e := range events {
		d := detailOf(e.event)
		name, _ := d["eventName"].(string)
		_, failed := d["errorCode"]
		params, _ := d["requestParameters"].(map[string]any)
		lockdownChange := slices.Contains(cloudtrail.LockdownPolicyEventNames, name) && params["policyArn"] == lockdownARN
		want := e.event["source"] == cloudtrail.Source && e.event["detail-type"] == cloudtrail.DetailType &&
			d["eventSource"] == cloudtrail.EventSource && (slices.Contains(cloudtrail.RoleEventNames, name) || lockdownChange) &&
			!failed && !slices.Contains(ownARNs, issuerARN(e.event))
		got := match(t, pattern, e.event)
		if got != want {
			t.Errorf("%s (%s, %s by %s, issuer %q, errorCode %v): match = %v, want %v",
				e.name, d["eventSource"], name, identityType(e.event), issuerARN(e.event), d["errorCode"], got, want)
		}
		if got {
			matchedTypes[identityType(e.event)]++
			if lockdownChange {
				matchedPolicyEvents[name]++
			}
		}
	}
	for _, name := range cloudtrail.LockdownPolicyEventNames {
		if matchedPolicyEvents[name] == 0 {
			t.Errorf("no %s of the lockdown policy matched", name)
		}
	}
	for _, typ := range []string{"IAMUser", "AssumedRole", "Root", "AWSService"} {
		if matchedTypes[typ] == 0 {
			t.Errorf("no event made by a %s identity matched; the own-role exclusion drops it", typ)
		}
	}
}

const testLockdownARN = "arn:aws:iam::123456789012:policy/GuardrailLockdown"

func TestEventPatternDetailOnCorpus(t *testing.T) {
	own := []string{"arn:aws:iam::123456789012:role/IamRoleGuardrail-Enforcer", "arn:aws:iam::123456789012:role/IamRoleGuardrail-Sweeper"}
	pattern := map[string]any{
		"source":      []any{cloudtrail.Source},
		"detail-type": []any{cloudtrail.DetailType},
		"detail":      clone(t, EventPatternDetail(own, testLockdownARN)),
	}
	checkPatternOnCorpus(t, pattern, own, testLockdownARN)
}

// TestAnythingButAloneDropsUsers shows why the $or is needed: without the
// exists:false branch, IAM users' and the root user's calls never match.
func TestAnythingButAloneDropsUsers(t *testing.T) {
	own := "arn:aws:iam::123456789012:role/IamRoleGuardrail-Enforcer"
	detail := clone(t, EventPatternDetail([]string{own}, testLockdownARN))
	alts, ok := detail["$or"].([]any)
	if !ok || len(alts) != 4 {
		t.Fatalf("$or = %v, want the exists:false and anything-but branches of both kinds", detail["$or"])
	}
	// Keep only the anything-but branches.
	var kept []any
	for _, a := range alts {
		if b, _ := json.Marshal(a); strings.Contains(string(b), "anything-but") {
			kept = append(kept, a)
		}
	}
	if len(kept) != 2 {
		t.Fatalf("%d anything-but branches, want 2", len(kept))
	}
	detail["$or"] = kept
	pattern := map[string]any{"source": []any{cloudtrail.Source}, "detail": detail}
	for _, e := range corpusEvents(t) {
		d := detailOf(e.event)
		if identityType(e.event) == "IAMUser" && d["eventName"] == "CreateRole" && d["errorCode"] == nil {
			if match(t, pattern, e.event) {
				t.Fatalf("%s: an anything-but alone matched an IAM user's call; the matcher does not model EventBridge", e.name)
			}
			return
		}
	}
	t.Fatal("no IAM user CreateRole record in the corpus")
}
