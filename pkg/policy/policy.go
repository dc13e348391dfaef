// Package policy provides a model of IAM policy documents that reads every
// form IAM accepts and writes a document back without disturbing anything the
// caller did not change.
//
// IAM's grammar is loose: Statement may be one object or a list; Principal is
// "*" or a map whose values are a string or a list; Action, Resource and
// condition values may each be a single value or a list; and the Get*/List*
// APIs return documents URL-encoded. Parse accepts all of it. The model keeps
// the raw bytes of every element, so MarshalJSON reproduces each statement the
// caller left alone byte for byte (white space aside) and a changed statement
// keeps its member order, its unknown members and the string-or-list shape of
// every value.
//
// Documents are immutable: Statement.WithPrincipal and Document.WithStatements
// return modified copies, so a before/after pair is always at hand.
package policy

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
)

// Effect is a statement's effect.
type Effect string

// The two effects IAM accepts. The element is case-sensitive in IAM.
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Document is a parsed IAM policy document.
type Document struct {
	// Version is the policy language version, "" when absent (IAM then
	// applies 2008-10-17).
	Version string
	// ID is the optional Id element.
	ID string
	// Statements in document order.
	Statements []*Statement

	single  bool     // Statement was one object rather than a list
	members []member // top-level members in source order
	raw     []byte   // the decoded source document
}

// Statement is one statement of a policy.
type Statement struct {
	// Sid is the optional statement ID.
	Sid    string
	Effect Effect
	// Principal and NotPrincipal are nil when absent.
	Principal    *Principal
	NotPrincipal *Principal
	// Action, NotAction, Resource and NotResource are nil when absent.
	Action, NotAction, Resource, NotResource *Values
	// Condition is nil when absent.
	Condition Condition

	members          []member // source order
	src              []byte   // the document the members refer to
	raw              []byte   // the statement's exact source bytes
	principalChanged bool
}

// Values is an element that IAM accepts as one string or a list of strings.
type Values struct {
	Items []string
	// List is true when the source wrote a JSON array (even of one item).
	List bool

	one [1]string // backs Items for the single-string form: one allocation less
}

// Principal is the value of a Principal or NotPrincipal element.
type Principal struct {
	// Wildcard is true for the bare string form "Principal": "*".
	Wildcard bool
	// Types lists the principal types ("AWS", "Service", "Federated",
	// "CanonicalUser", or anything else the source wrote) in source order.
	Types []PrincipalType
}

// PrincipalType is one key of a principal map and its values.
type PrincipalType struct {
	Name   string
	Values []string
	// List is true when the source wrote a JSON array.
	List bool
}

// Condition is a Condition element: operators in source order.
type Condition []ConditionOperator

// ConditionOperator is one operator of a Condition block, such as StringEquals.
type ConditionOperator struct {
	Operator string
	Keys     []ConditionKey
}

// ConditionKey is one condition key with its values. Boolean and number
// values are kept as their JSON literal text ("true", "123456789012").
type ConditionKey struct {
	Key    string
	Values []string

	one [1]string // backs Values for a single value
}

// Error reports why a document is not a valid IAM policy and where.
type Error struct {
	// Path names the element, for example "Statement[1].Principal.AWS[0]";
	// empty for JSON syntax errors.
	Path string
	// Offset is the byte offset in the decoded document where the problem is.
	Offset int64
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("policy: invalid JSON at offset %d: %s", e.Offset, e.Msg)
	}
	return fmt.Sprintf("policy: %s: %s", e.Path, e.Msg)
}

// elementNames are the element names IAM knows. They are case-sensitive; a
// member that differs from one only in case is refused, because a reader that
// ignored case would see a principal this model does not.
var statementElements = []string{"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
var documentElements = []string{"Version", "Id", "Statement"}

// Parse reads a policy document, plain JSON or URL-encoded JSON as IAM's
// Get*/List* APIs return it (RFC 3986 percent-encoding).
func Parse(data []byte) (*Document, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '%' {
		decoded, err := url.PathUnescape(string(data))
		if err != nil {
			return nil, &Error{Msg: "invalid URL encoding: " + err.Error()}
		}
		data = bytes.TrimSpace([]byte(decoded))
	} else {
		data = bytes.Clone(data) // the model refers to it; the caller's buffer stays theirs
	}
	root, err := parseJSON(data)
	if err != nil {
		return nil, err
	}
	if root.kind != kindObject {
		return nil, &Error{Path: "(document)", Offset: int64(root.offset), Msg: "a policy must be a JSON object, not " + root.kind.String()}
	}
	if err := checkCase(&root, documentElements, ""); err != nil {
		return nil, err
	}
	d := &Document{members: root.members, raw: data}
	if v, ok := root.get("Version"); ok {
		if v.kind != kindString {
			return nil, errAt("Version", v, "must be a string")
		}
		if v.str != "2012-10-17" && v.str != "2008-10-17" {
			return nil, errAt("Version", v, fmt.Sprintf("unknown policy version %q (IAM accepts 2012-10-17 and 2008-10-17)", v.str))
		}
		d.Version = v.str
	}
	if v, ok := root.get("Id"); ok {
		if v.kind != kindString {
			return nil, errAt("Id", v, "must be a string")
		}
		d.ID = v.str
	}
	st, ok := root.get("Statement")
	if !ok {
		return nil, &Error{Path: "Statement", Msg: "missing: a policy needs a Statement element"}
	}
	switch st.kind {
	case kindObject:
		d.single = true
		s, err := parseStatement(st, data)
		if err != nil {
			return nil, within(err, "Statement")
		}
		d.Statements = []*Statement{s}
	case kindArray:
		d.Statements = make([]*Statement, 0, len(st.members))
		for i := range st.members {
			s, err := parseStatement(&st.members[i].val, data)
			if err != nil {
				return nil, within(err, fmt.Sprintf("Statement[%d]", i))
			}
			d.Statements = append(d.Statements, s)
		}
	default:
		return nil, errAt("Statement", st, "must be an object or a list of objects, not "+st.kind.String())
	}
	return d, nil
}

// ParseStatement reads one statement object.
func ParseStatement(data []byte) (*Statement, error) {
	data = bytes.Clone(bytes.TrimSpace(data))
	v, err := parseJSON(data)
	if err != nil {
		return nil, err
	}
	s, err := parseStatement(&v, data)
	if err != nil {
		return nil, within(err, "Statement")
	}
	return s, nil
}

// errAt returns an error about v; path is relative to the element being
// parsed, and callers prefix their own part with within as the error travels
// up, so paths cost nothing unless there is an error.
func errAt(path string, v *value, msg string) *Error {
	return &Error{Path: path, Offset: int64(v.offset), Msg: msg}
}

// within prefixes the path of a *Error with the enclosing element.
func within(err error, outer string) error {
	if e, ok := err.(*Error); ok {
		switch {
		case e.Path == "":
			e.Path = outer
		case e.Path[0] == '[':
			e.Path = outer + e.Path
		default:
			e.Path = outer + "." + e.Path
		}
	}
	return err
}

// checkCase refuses members whose names differ from a known element only in case.
func checkCase(obj *value, known []string, path string) error {
	for _, m := range obj.members {
		for _, k := range known {
			if m.key != k && strings.EqualFold(m.key, k) {
				return errAt(join(path, m.key), &m.val, fmt.Sprintf("element names are case-sensitive: %q is not %q", m.key, k))
			}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func parseStatement(v *value, src []byte) (*Statement, error) {
	if v.kind != kindObject {
		return nil, errAt("", v, "a statement must be an object, not "+v.kind.String())
	}
	if err := checkCase(v, statementElements, ""); err != nil {
		return nil, err
	}
	s := &Statement{members: v.members, src: src, raw: v.bytes(src)}
	for i := range v.members {
		m := &v.members[i]
		var err error
		switch m.key {
		case "Sid":
			if m.val.kind != kindString {
				err = errAt("", &m.val, "must be a string")
			}
			s.Sid = m.val.str
		case "Effect":
			if m.val.kind != kindString || (m.val.str != string(Allow) && m.val.str != string(Deny)) {
				err = errAt("", &m.val, fmt.Sprintf("must be \"Allow\" or \"Deny\", not %s", m.val.bytes(src)))
			}
			s.Effect = Effect(m.val.str)
		case "Principal":
			s.Principal, err = parsePrincipal(&m.val)
		case "NotPrincipal":
			s.NotPrincipal, err = parsePrincipal(&m.val)
		case "Action":
			s.Action, err = parseValues(&m.val)
		case "NotAction":
			s.NotAction, err = parseValues(&m.val)
		case "Resource":
			s.Resource, err = parseValues(&m.val)
		case "NotResource":
			s.NotResource, err = parseValues(&m.val)
		case "Condition":
			s.Condition, err = parseCondition(&m.val)
		}
		if err != nil {
			return nil, within(err, m.key)
		}
	}
	switch {
	case s.Effect == "":
		return nil, &Error{Path: "Effect", Offset: int64(v.offset), Msg: "missing: every statement needs an Effect"}
	case s.Principal != nil && s.NotPrincipal != nil:
		return nil, &Error{Offset: int64(v.offset), Msg: "Principal and NotPrincipal are mutually exclusive"}
	case s.Action != nil && s.NotAction != nil:
		return nil, &Error{Offset: int64(v.offset), Msg: "Action and NotAction are mutually exclusive"}
	case s.Resource != nil && s.NotResource != nil:
		return nil, &Error{Offset: int64(v.offset), Msg: "Resource and NotResource are mutually exclusive"}
	}
	return s, nil
}

func parseValues(v *value) (*Values, error) {
	switch v.kind {
	case kindString:
		out := &Values{}
		out.one[0] = v.str
		out.Items = out.one[:]
		return out, nil
	case kindArray:
		out := &Values{Items: make([]string, 0, len(v.members)), List: true}
		for i := range v.members {
			e := &v.members[i].val
			if e.kind != kindString {
				return nil, errAt(fmt.Sprintf("[%d]", i), e, "must be a string, not "+e.kind.String())
			}
			out.Items = append(out.Items, e.str)
		}
		return out, nil
	}
	return nil, errAt("", v, "must be a string or a list of strings, not "+v.kind.String())
}

func parsePrincipal(v *value) (*Principal, error) {
	switch v.kind {
	case kindString:
		if v.str != "*" {
			return nil, errAt("", v, fmt.Sprintf("a principal string must be \"*\", not %q; name the type, as in {\"AWS\": ...}", v.str))
		}
		return &Principal{Wildcard: true}, nil
	case kindObject:
		p := &Principal{Types: make([]PrincipalType, 0, len(v.members))}
		for i := range v.members {
			m := &v.members[i]
			vals, err := parseValues(&m.val)
			if err != nil {
				return nil, within(err, m.key)
			}
			p.Types = append(p.Types, PrincipalType{Name: m.key, Values: vals.Items, List: vals.List})
		}
		return p, nil
	}
	return nil, errAt("", v, "must be \"*\" or an object, not "+v.kind.String())
}

func parseCondition(v *value) (Condition, error) {
	if v.kind != kindObject {
		return nil, errAt("", v, "must be an object of operators, not "+v.kind.String())
	}
	c := make(Condition, 0, len(v.members))
	for i := range v.members {
		op := &v.members[i]
		if op.val.kind != kindObject {
			return nil, errAt(op.key, &op.val, "must be an object of condition keys, not "+op.val.kind.String())
		}
		co := ConditionOperator{Operator: op.key, Keys: make([]ConditionKey, 0, len(op.val.members))}
		for j := range op.val.members {
			k := &op.val.members[j]
			co.Keys = append(co.Keys, ConditionKey{Key: k.key})
			ck := &co.Keys[len(co.Keys)-1] // Keys has its final capacity: ck stays put
			switch k.val.kind {
			case kindString, kindNumber, kindBool:
				ck.one[0] = k.val.str
				ck.Values = ck.one[:]
			case kindArray:
				ck.Values = make([]string, 0, len(k.val.members))
				for n := range k.val.members {
					e := &k.val.members[n].val
					if e.kind != kindString && e.kind != kindNumber && e.kind != kindBool {
						return nil, errAt(fmt.Sprintf("%s.%s[%d]", op.key, k.key, n), e, "must be a string, number or boolean, not "+e.kind.String())
					}
					ck.Values = append(ck.Values, e.str)
				}
			default:
				return nil, errAt(op.key+"."+k.key, &k.val, "must be a string, number, boolean or a list of them, not "+k.val.kind.String())
			}
		}
		c = append(c, co)
	}
	return c, nil
}

// WithPrincipal returns a copy of s whose Principal is p. Every other member
// keeps its exact source bytes. A nil p means the statement has no principal
// left; callers normally drop such a statement.
func (s *Statement) WithPrincipal(p *Principal) *Statement {
	c := *s
	c.Principal = p
	c.principalChanged = true
	return &c
}

// WithStatements returns a copy of d holding stmts. Every other top-level
// member keeps its exact source bytes; a Statement written as one object stays
// one object while exactly one statement remains.
func (d *Document) WithStatements(stmts []*Statement) *Document {
	c := *d
	c.Statements = stmts
	return &c
}

// Filter returns the principal with only the values keep accepts. Types left
// empty are dropped; nil is returned when nothing remains. A type written as a
// list stays a list, a single string stays a string.
func (p *Principal) Filter(keep func(typ, value string) bool) *Principal {
	if p == nil {
		return nil
	}
	if p.Wildcard {
		if keep("*", "*") {
			return p
		}
		return nil
	}
	out := &Principal{Types: make([]PrincipalType, 0, len(p.Types))}
	for _, t := range p.Types {
		nt := PrincipalType{Name: t.Name, List: t.List}
		for _, v := range t.Values {
			if keep(t.Name, v) {
				nt.Values = append(nt.Values, v)
			}
		}
		if len(nt.Values) > 0 {
			out.Types = append(out.Types, nt)
		}
	}
	if len(out.Types) == 0 {
		return nil
	}
	return out
}

// Len returns the number of principal values (1 for the bare wildcard).
func (p *Principal) Len() int {
	if p == nil {
		return 0
	}
	if p.Wildcard {
		return 1
	}
	n := 0
	for _, t := range p.Types {
		n += len(t.Values)
	}
	return n
}
