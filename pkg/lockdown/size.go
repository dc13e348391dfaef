package lockdown

import (
	"fmt"
	"unicode/utf8"
)

// MaxSize is IAM's limit for a customer-managed policy document: 6,144
// characters, white space not counted (IAM User Guide, "IAM and AWS STS
// quotas": "IAM doesn't count white space when calculating the size of a
// policy against these limits"; GetAccountSummary reports PolicySizeQuota "in
// non-whitespace characters"). It is not adjustable.
const MaxSize = 6144

// Size returns the size of a JSON policy document as IAM counts it against
// MaxSize: characters (not bytes) other than the white space between JSON
// tokens.
//
// AWS documents that white space is not counted but not whether that includes
// white space inside string values. Size counts it there, and counts a JSON
// escape such as \u0026 as the six characters it is written with, so the
// result is never below IAM's count: a document that passes CheckSize is never
// refused by IAM for its size. Policies built by this package contain no such
// characters, so for them the count is exact.
func Size(doc []byte) int {
	n := 0
	inString, escaped := false, false
	for len(doc) > 0 {
		r, w := utf8.DecodeRune(doc)
		doc = doc[w:]
		switch {
		case inString:
			n++
			switch {
			case escaped:
				escaped = false
			case r == '\\':
				escaped = true
			case r == '"':
				inString = false
			}
		case r == ' ', r == '\t', r == '\n', r == '\r':
			// insignificant white space (RFC 8259 §2)
		default:
			n++
			if r == '"' {
				inString = true
			}
		}
	}
	return n
}

// SizeError reports a policy document over MaxSize.
type SizeError struct {
	Size int // as computed by Size
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("policy document is %d characters without white space; IAM's managed-policy limit is %d", e.Size, MaxSize)
}

// CheckSize returns a *SizeError when doc would exceed IAM's managed-policy
// size limit, and nil otherwise.
func CheckSize(doc []byte) error {
	if n := Size(doc); n > MaxSize {
		return &SizeError{Size: n}
	}
	return nil
}
