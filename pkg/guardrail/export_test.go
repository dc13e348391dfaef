package guardrail

import (
	"time"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// WithPolicyParser replaces policy.Parse for every document the engine
// parses, so a test can count the parses (parse_test.go). Test builds only.
func WithPolicyParser(parse func([]byte) (*policy.Document, error)) Option {
	return func(e *Engine) { e.parse = parse }
}

// MarkerValue renders a write marker for doc (JSON), restricted from the
// document whose hash is src, as the engine would write it; tests forge
// markers with it. Test builds only.
func MarkerValue(at time.Time, doc, src string) (string, error) {
	d, err := policy.Parse([]byte(doc))
	if err != nil {
		return "", err
	}
	return markerValue(exactly(at), d, src, at), nil
}

// DocHash is the hash a marker names for doc (JSON). Test builds only.
func DocHash(doc string) (string, error) {
	d, err := policy.Parse([]byte(doc))
	if err != nil {
		return "", err
	}
	return docHash(d), nil
}
