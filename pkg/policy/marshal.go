package policy

import (
	"encoding/json"
	"sort"
	"strings"
)

// MarshalJSON writes the document as compact JSON. Top-level members and
// statements the caller did not change keep their exact source content and
// shape; only insignificant white space is dropped.
func (d *Document) MarshalJSON() ([]byte, error) {
	return d.AppendJSON(make([]byte, 0, len(d.src.data)+16)), nil
}

// AppendJSON appends the compact JSON form of d to dst.
func (d *Document) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	wroteStatement := false
	src := d.src
	for i := range d.members {
		m := &d.members[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, src.rawKey(m)...)
		dst = append(dst, ':')
		if src.key(m) == "Statement" {
			dst = d.appendStatements(dst)
			wroteStatement = true
			continue
		}
		dst = appendCompact(dst, src.bytes(&m.val))
	}
	if !wroteStatement { // a document built without a source
		if len(d.members) > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `"Statement":`...)
		dst = d.appendStatements(dst)
	}
	return append(dst, '}')
}

// String returns the compact JSON form of d.
func (d *Document) String() string { return string(d.AppendJSON(nil)) }

func (d *Document) appendStatements(dst []byte) []byte {
	if d.single && len(d.Statements) == 1 {
		return d.Statements[0].AppendJSON(dst)
	}
	dst = append(dst, '[')
	for i, s := range d.Statements {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = s.AppendJSON(dst)
	}
	return append(dst, ']')
}

// MarshalJSON writes the statement as compact JSON.
func (s *Statement) MarshalJSON() ([]byte, error) { return s.AppendJSON(nil), nil }

// AppendJSON appends the compact JSON form of s to dst. An unchanged
// statement is its source bytes without white space; a changed one keeps its
// member order and every member other than Principal byte for byte.
func (s *Statement) AppendJSON(dst []byte) []byte {
	if !s.principalChanged {
		return appendCompact(dst, s.raw)
	}
	dst = append(dst, '{')
	first := true
	// A statement whose NotPrincipal was replaced by a Principal writes the
	// Principal where the NotPrincipal stood.
	hadPrincipal := s.src.data != nil && s.hasMember("Principal")
	for i := range s.members {
		m := &s.members[i]
		key := s.src.key(m)
		var p *Principal
		switch key {
		case "Principal":
			if p = s.Principal; p == nil {
				continue
			}
		case "NotPrincipal":
			p = s.NotPrincipal
			if p == nil && !hadPrincipal && s.Principal != nil {
				key, p = "Principal", s.Principal
			}
			if p == nil {
				continue
			}
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		if p != nil {
			dst = appendString(dst, key)
			dst = append(dst, ':')
			dst = p.appendJSON(dst)
			continue
		}
		dst = append(dst, s.src.rawKey(m)...)
		dst = append(dst, ':')
		dst = appendCompact(dst, s.src.bytes(&m.val))
	}
	return append(dst, '}')
}

// hasMember reports whether the statement's source has a member named key.
func (s *Statement) hasMember(key string) bool {
	for i := range s.members {
		if s.src.key(&s.members[i]) == key {
			return true
		}
	}
	return false
}

func (p *Principal) appendJSON(dst []byte) []byte {
	if p.Wildcard {
		return append(dst, `"*"`...)
	}
	dst = append(dst, '{')
	for i, t := range p.Types {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, t.Name)
		dst = append(dst, ':')
		if !t.List && len(t.Values) == 1 {
			dst = appendString(dst, t.Values[0])
			continue
		}
		dst = append(dst, '[')
		for j, v := range t.Values {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, v)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendString appends s as a JSON string. Plain ASCII strings, which is
// nearly every ARN and service name, are written directly.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// Equivalent reports whether a and b grant the same thing as IAM reads them,
// ignoring what IAM may change when it stores a document: white space, member
// and statement order, the string-or-list shape of values, the case of action
// names and condition keys, and a bare account ID versus its root ARN.
func Equivalent(a, b *Document) bool {
	if a == nil || b == nil {
		return a == b
	}
	return canonical(a) == canonical(b)
}

func canonical(d *Document) string {
	var sb strings.Builder
	v := d.Version
	if v == "" {
		v = "2008-10-17"
	}
	sb.WriteString(v)
	sb.WriteByte('|')
	sb.WriteString(d.ID)
	stmts := make([]string, len(d.Statements))
	for i, s := range d.Statements {
		stmts[i] = s.canonical()
	}
	sort.Strings(stmts)
	for _, s := range stmts {
		sb.WriteByte('\n')
		sb.WriteString(s)
	}
	return sb.String()
}

func (s *Statement) canonical() string {
	var parts []string
	add := func(k string, vals ...string) {
		parts = append(parts, k+"="+strings.Join(vals, ","))
	}
	add("Sid", s.Sid)
	add("Effect", string(s.Effect))
	for _, p := range []struct {
		name string
		p    *Principal
	}{{"Principal", s.Principal}, {"NotPrincipal", s.NotPrincipal}} {
		if p.p == nil {
			continue
		}
		if p.p.Wildcard {
			add(p.name, "AWS:*")
			continue
		}
		var vals []string
		for _, t := range p.p.Types {
			for _, v := range t.Values {
				if t.Name == "AWS" {
					v = canonicalAccount(v)
				}
				vals = append(vals, t.Name+":"+v)
			}
		}
		sort.Strings(vals)
		vals = dedupe(vals)
		add(p.name, vals...)
	}
	for _, e := range []struct {
		name string
		v    *Values
		fold bool
	}{{"Action", s.Action, true}, {"NotAction", s.NotAction, true}, {"Resource", s.Resource, false}, {"NotResource", s.NotResource, false}} {
		if e.v == nil {
			continue
		}
		vals := append([]string(nil), e.v.Items...)
		if e.fold {
			for i := range vals {
				vals[i] = strings.ToLower(vals[i])
			}
		}
		sort.Strings(vals)
		add(e.name, dedupe(vals)...)
	}
	var conds []string
	for _, op := range s.Condition {
		for _, k := range op.Keys {
			vals := append([]string(nil), k.Values...)
			sort.Strings(vals)
			conds = append(conds, op.Operator+"/"+strings.ToLower(k.Key)+"="+strings.Join(dedupe(vals), ","))
		}
	}
	sort.Strings(conds)
	add("Condition", conds...)
	for i := range s.members {
		m := &s.members[i]
		if key := s.src.key(m); !isStatementElement(key) {
			add("?"+key, string(appendCompact(nil, s.src.bytes(&m.val))))
		}
	}
	sort.Strings(parts[len(parts)-countUnknown(s):])
	return strings.Join(parts, ";")
}

func isStatementElement(k string) bool {
	for _, e := range statementElements {
		if e == k {
			return true
		}
	}
	return false
}

func countUnknown(s *Statement) int {
	n := 0
	for i := range s.members {
		if !isStatementElement(s.src.key(&s.members[i])) {
			n++
		}
	}
	return n
}

// canonicalAccount maps the two spellings of a whole-account principal, the
// bare ID and arn:PARTITION:iam::ID:root, to one form.
func canonicalAccount(v string) string {
	if isAccountID(v) {
		return "account:" + v
	}
	if strings.HasPrefix(v, "arn:") && strings.HasSuffix(v, ":root") {
		f := strings.Split(v, ":")
		if len(f) == 6 && f[2] == "iam" && f[3] == "" && isAccountID(f[4]) && f[5] == "root" {
			return "account:" + f[4]
		}
	}
	return v
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func dedupe(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}
