package iamtest

import "strings"

// encodeRFC3986 percent-encodes s the way IAM encodes policy documents in
// GetRole, GetRolePolicy, GetPolicyVersion, ListRoles and
// GetAccountAuthorizationDetails ("URL-encoded compliant with RFC 3986",
// https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRole.html):
// every byte of the UTF-8 form except the unreserved characters
// A-Z a-z 0-9 - . _ ~ becomes %XX. A space is %20 and a plus is %2B, never
// "+", so both url.PathUnescape and url.QueryUnescape decode it exactly. Real
// CloudTrail CreateRole records in the shared corpus show this encoding
// (whitespace kept, '-' and '.' left as they are); encode_test.go checks it.
func encodeRFC3986(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0F])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
