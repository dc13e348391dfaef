package iamtest

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// params are the form parameters of one request.
type params url.Values

func (p params) str(name string) string { return url.Values(p).Get(name) }

func (p params) has(name string) bool { _, ok := p[name]; return ok }

// constraintErr is IAM's ValidationError wording for a parameter that
// breaks its model constraint.
func constraintErr(value, member, constraint string) *apiError {
	return errValidation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s",
		value, member, constraint)
}

// required returns a parameter that must be present and non-empty. The SDK
// checks this before sending; the server checks again for other clients.
func (p params) required(name, member string) (string, *apiError) {
	v := p.str(name)
	if v == "" {
		return "", errValidation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
	}
	return v, nil
}

var (
	roleNameRe   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	policyNameRe = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	pathRe       = regexp.MustCompile(`^(/|/[\x21-\x7E]+/)$`)
	pathPrefixRe = regexp.MustCompile(`^/[\x21-\x7F]*$`)
	policyARNRe  = regexp.MustCompile(`^arn:[\w+=/,.@-]+:iam::(aws|[0-9]{12}):policy(/[\x21-\x7E]*)?/[\w+=,.@-]+$`)
	tagKeyRe     = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValueRe   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

// roleName returns the RoleName parameter, validated against IAM's pattern.
func (p params) roleName() (string, *apiError) {
	n, err := p.required("RoleName", "roleName")
	if err != nil {
		return "", err
	}
	if !roleNameRe.MatchString(n) {
		return "", constraintErr(n, "roleName", `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	return n, nil
}

func (p params) policyName() (string, *apiError) {
	n, err := p.required("PolicyName", "policyName")
	if err != nil {
		return "", err
	}
	if !policyNameRe.MatchString(n) {
		return "", constraintErr(n, "policyName", `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	return n, nil
}

func (p params) policyARN(name, member string) (string, *apiError) {
	a, err := p.required(name, member)
	if err != nil {
		return "", err
	}
	if !policyARNRe.MatchString(a) {
		return "", errInvalidInput("ARN %s is not valid.", a)
	}
	return a, nil
}

// path returns the Path parameter, "/" when absent.
func (p params) path() (string, *apiError) {
	if !p.has("Path") {
		return "/", nil
	}
	v := p.str("Path")
	if len(v) > 512 || !pathRe.MatchString(v) {
		return "", constraintErr(v, "path", `Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)`)
	}
	return v, nil
}

func (p params) pathPrefix() (string, *apiError) {
	if !p.has("PathPrefix") {
		return "/", nil
	}
	v := p.str("PathPrefix")
	if len(v) > 512 || !pathPrefixRe.MatchString(v) {
		return "", constraintErr(v, "pathPrefix", `Member must satisfy regular expression pattern: \u002F[\u0021-\u007F]*`)
	}
	return v, nil
}

// list returns Prefix.member.1, Prefix.member.2, … until the first gap.
func (p params) list(prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		k := prefix + ".member." + strconv.Itoa(i)
		if !p.has(k) {
			return out
		}
		out = append(out, p.str(k))
	}
}

type tag struct{ key, value string }

// tags returns Tags.member.N.Key/Value, validated as IAM does.
func (p params) tags() ([]tag, *apiError) {
	var out []tag
	for i := 1; ; i++ {
		base := "Tags.member." + strconv.Itoa(i)
		if !p.has(base+".Key") && !p.has(base+".Value") {
			return out, nil
		}
		t := tag{key: p.str(base + ".Key"), value: p.str(base + ".Value")}
		if e := checkTag(t); e != nil {
			return nil, e
		}
		out = append(out, t)
	}
}

func checkTag(t tag) *apiError {
	if n := utf8.RuneCountInString(t.key); n < 1 || n > 128 || !tagKeyRe.MatchString(t.key) {
		return constraintErr(t.key, "tags.member.key", `Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+`)
	}
	if strings.HasPrefix(strings.ToLower(t.key), "aws:") {
		return errInvalidInput("User-entered tag keys may not start with 'aws:'")
	}
	if n := utf8.RuneCountInString(t.value); n > 256 || !tagValueRe.MatchString(t.value) {
		return constraintErr(t.value, "tags.member.value", `Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]*`)
	}
	return nil
}

// page is one page of a sorted key list.
type page struct {
	start, end int
	next       string // marker for the next page, "" when not truncated
}

// memberPage answers one page of sorted keys (paginate) as the list element
// named list, one <member> per key that member fills, then the page's
// IsTruncated and Marker.
func (p params) memberPage(keys []string, list string, member func(w *xmlWriter, key string)) (func(*xmlWriter), *apiError) {
	pg, err := p.paginate(keys)
	if err != nil {
		return nil, err
	}
	return func(w *xmlWriter) {
		w.open(list)
		for _, k := range keys[pg.start:pg.end] {
			w.open("member")
			member(w, k)
			w.close("member")
		}
		w.close(list)
		w.pageInfo(pg)
	}, nil
}

// paginate cuts one page out of sorted keys following IAM's MaxItems /
// Marker / IsTruncated contract: MaxItems 1..1000, default 100; the marker
// is opaque and names the last key returned, so a page continues correctly
// when entities are added or removed between calls.
func (p params) paginate(keys []string) (page, *apiError) {
	max := defaultMaxItems
	if p.has("MaxItems") {
		v := p.str("MaxItems")
		n, err := strconv.Atoi(v)
		if err != nil {
			return page{}, constraintErr(v, "maxItems", "Member must be an integer")
		}
		if n < 1 {
			return page{}, constraintErr(v, "maxItems", "Member must have value greater than or equal to 1")
		}
		if n > maxMaxItems {
			return page{}, constraintErr(v, "maxItems", "Member must have value less than or equal to 1000")
		}
		max = n
	}
	start := 0
	if p.has("Marker") {
		raw, err := base64.RawURLEncoding.DecodeString(p.str("Marker"))
		if err != nil || !strings.HasPrefix(string(raw), "after:") {
			return page{}, errInvalidInput("Invalid Marker.")
		}
		last := strings.TrimPrefix(string(raw), "after:")
		for start < len(keys) && keys[start] <= last {
			start++
		}
	}
	end := min(start+max, len(keys))
	pg := page{start: start, end: end}
	if end < len(keys) {
		pg.next = base64.RawURLEncoding.EncodeToString([]byte("after:" + keys[end-1]))
	}
	return pg, nil
}

// writePage writes IsTruncated and Marker.
func (w *xmlWriter) pageInfo(pg page) {
	w.boolean("IsTruncated", pg.next != "")
	w.elemIf("Marker", pg.next)
}
