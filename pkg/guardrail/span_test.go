package guardrail

import (
	"strings"
	"testing"
	"time"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// A marker's span survives its rendering; one without an end (written
// before spans were recorded) spans its second; one that ends before it
// starts is no marker.
func TestMarkerSpan(t *testing.T) {
	doc, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 3, 21, 26, 50, 0, time.UTC)
	src := strings.Repeat("a", 64)
	read := readSpan(at.Add(9*time.Second+900*time.Millisecond), 10*time.Second)
	if want := (span{at.Add(-2 * time.Second), at.Add(10 * time.Second)}); read != want {
		t.Fatalf("readSpan = %v, want %v", read, want)
	}
	rendered := markerValue(read, doc, src, at)
	if len(rendered) > 256 {
		t.Errorf("marker of %d characters, IAM allows 256", len(rendered))
	}
	legacy := at.Format(time.RFC3339) + " sha256:" + docHash(doc) + " src:" + src + " w:" + at.Format(time.RFC3339)
	tests := []struct {
		name  string
		value string
		want  span
		ok    bool
	}{
		{"rendered", rendered, read, true},
		{"without an end", legacy, exactly(at), true},
		{"ends before it starts", legacy + " u:" + at.Add(-time.Second).Format(time.RFC3339), span{}, false},
		{"end not a time", legacy + " u:soon", span{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := parseMarker(tc.value)
			if ok != tc.ok || ok && m.at != tc.want {
				t.Errorf("parseMarker = %v, %v; want %v, %v", m.at, ok, tc.want, tc.ok)
			}
		})
	}
}

// A span is before another only when it ends no later than the other
// starts: overlapping spans, such as an event inside a read's span, cannot
// be ordered.
func TestSpanOrder(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 21, 26, 50, 0, time.UTC)
	read := span{t0.Add(-2 * time.Second), t0.Add(10 * time.Second)}
	tests := []struct {
		name          string
		a, b          span
		before, after bool
	}{
		{"same second", exactly(t0), exactly(t0), false, false},
		{"next second", exactly(t0), exactly(t0.Add(time.Second)), true, false},
		{"event inside a read's span", exactly(t0), read, false, false},
		{"event before a read's span", exactly(t0.Add(-3 * time.Second)), read, true, false},
		{"event after the read", exactly(t0.Add(10 * time.Second)), read, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.before(tc.b); got != tc.before {
				t.Errorf("a.before(b) = %v, want %v", got, tc.before)
			}
			if got := tc.b.before(tc.a); got != tc.after {
				t.Errorf("b.before(a) = %v, want %v", got, tc.after)
			}
		})
	}
	if u := exactly(t0).union(read); u != read {
		t.Errorf("union = %v, want %v", u, read)
	}
}
