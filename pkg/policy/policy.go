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
	"slices"
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
	src     source   // the parsed source document
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
	src              source   // the document the members refer to
	raw              []byte   // the statement's exact source bytes
	principalChanged bool

	// Storage behind the pointer fields, so that a statement and its
	// elements are one allocation (statements are allocated in a block).
	principal, notPrincipal Principal
	action, resource        Values
}

// Values is an element that IAM accepts as one string or a list of strings.
type Values struct {
	Items []string
	// List is true when the source wrote a JSON array (even of one item).
	List bool
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
	root, src, err := parseJSON(data)
	if err != nil {
		return nil, err
	}
	if root.kind != kindObject {
		return nil, &Error{Path: "(document)", Offset: int64(root.offset), Msg: "a policy must be a JSON object, not " + root.kind.String()}
	}
	if err := checkCase(src, &root, documentElements); err != nil {
		return nil, err
	}
	// Most trust policies hold one statement: the document, that statement,
	// the statement list and the pools then come in one allocation.
	one := new(singleDoc)
	b := builder{src: src, strs: one.strs[:0], types: one.types[:0], ops: one.ops[:0], keys: one.keys[:0]}
	d := &one.doc
	d.members, d.src = src.members(&root), src
	if v, ok := src.get(&root, "Version"); ok {
		if v.kind != kindString {
			return nil, errAt("Version", v, "must be a string")
		}
		if d.Version = src.str(v); d.Version != "2012-10-17" && d.Version != "2008-10-17" {
			return nil, errAt("Version", v, fmt.Sprintf("unknown policy version %q (IAM accepts 2012-10-17 and 2008-10-17)", d.Version))
		}
	}
	if v, ok := src.get(&root, "Id"); ok {
		if v.kind != kindString {
			return nil, errAt("Id", v, "must be a string")
		}
		d.ID = src.str(v)
	}
	st, ok := src.get(&root, "Statement")
	if !ok {
		return nil, &Error{Path: "Statement", Msg: "missing: a policy needs a Statement element"}
	}
	switch st.kind {
	case kindObject:
		d.single = true
		s, err := b.statement(st, &one.stmt[0])
		if err != nil {
			return nil, within(err, "Statement")
		}
		one.list[0] = s
		d.Statements = one.list[:]
	case kindArray:
		elems := src.members(st)
		block, list := one.stmt[:], one.list[:]
		if len(elems) > 1 {
			block, list = make([]Statement, len(elems)), make([]*Statement, len(elems))
		}
		d.Statements = list[:len(elems):len(elems)]
		for i := range elems {
			s, err := b.statement(&elems[i].val, &block[i])
			if err != nil {
				return nil, within(err, fmt.Sprintf("Statement[%d]", i))
			}
			d.Statements[i] = s
		}
	default:
		return nil, errAt("Statement", st, "must be an object or a list of objects, not "+st.kind.String())
	}
	return d, nil
}

// ParseStatement reads one statement object.
func ParseStatement(data []byte) (*Statement, error) {
	data = bytes.Clone(bytes.TrimSpace(data))
	v, src, err := parseJSON(data)
	if err != nil {
		return nil, err
	}
	b := builder{src: src}
	s, err := b.statement(&v, new(Statement))
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
func checkCase(src source, obj *value, known []string) error {
	ms := src.members(obj)
	for i := range ms {
		key := src.key(&ms[i])
		if slices.Contains(known, key) {
			continue
		}
		if err := caseConflict(key, &ms[i].val, known); err != nil {
			return within(err, key)
		}
	}
	return nil
}

// caseConflict refuses an unknown member name that differs from a known
// element only in case.
func caseConflict(key string, v *value, known []string) error {
	for _, k := range known {
		if len(key) == len(k) && strings.EqualFold(key, k) {
			return errAt("", v, fmt.Sprintf("element names are case-sensitive: %q is not %q", key, k))
		}
	}
	return nil
}

// builder turns parsed values into the model. Every string list of a
// document (action lists, principal values, condition values) is cut from
// one backing array, so a document costs a handful of allocations.
type builder struct {
	src  source
	strs []string
	// Pools for the small structs of a document, cut like strs.
	types []PrincipalType
	ops   []ConditionOperator
	keys  []ConditionKey
}

// take returns n elements cut from *pool, refilling it in chunks; the result
// has no spare capacity, so appending to it never touches a neighbour.
func take[T any](pool *[]T, n int) []T {
	if len(*pool)+n > cap(*pool) {
		*pool = make([]T, 0, max(n, 4))
	}
	at := len(*pool)
	*pool = (*pool)[:at+n]
	return (*pool)[at : at+n : at+n]
}

// singleDoc holds a document together with room for one statement and for
// the string lists and small structs of a small document, so that a typical
// trust policy costs one allocation here; larger ones spill into chunks.
type singleDoc struct {
	doc   Document
	stmt  [1]Statement
	list  [1]*Statement
	strs  [8]string
	types [2]PrincipalType
	ops   [2]ConditionOperator
	keys  [2]ConditionKey
}

// list returns a new list of n strings cut from the backing array; it has
// no spare capacity, so appending to it never touches a neighbour.
func (b *builder) list(n int) []string {
	if len(b.strs)+n > cap(b.strs) {
		b.strs = make([]string, 0, max(n, 16))
	}
	at := len(b.strs)
	b.strs = b.strs[:at+n]
	return b.strs[at : at+n : at+n]
}

// strings returns the items of a string or list-of-strings value.
func (b *builder) strings(v *value) (items []string, list bool, err error) {
	switch v.kind {
	case kindString:
		items = b.list(1)
		items[0] = b.src.str(v)
		return items, false, nil
	case kindArray:
		elems := b.src.members(v)
		items = b.list(len(elems))
		for i := range elems {
			e := &elems[i].val
			if e.kind != kindString {
				return nil, false, errAt(fmt.Sprintf("[%d]", i), e, "must be a string, not "+e.kind.String())
			}
			items[i] = b.src.str(e)
		}
		return items, true, nil
	}
	return nil, false, errAt("", v, "must be a string or a list of strings, not "+v.kind.String())
}

func (b *builder) statement(v *value, s *Statement) (*Statement, error) {
	src := b.src
	if v.kind != kindObject {
		return nil, errAt("", v, "a statement must be an object, not "+v.kind.String())
	}
	s.members, s.src, s.raw = src.members(v), src, src.bytes(v) // *s is zero: set only these
	for i := range s.members {
		m := &s.members[i]
		var err error
		key := src.key(m)
		switch key {
		case "Sid":
			if m.val.kind != kindString {
				err = errAt("", &m.val, "must be a string")
			}
			s.Sid = src.str(&m.val)
		case "Effect":
			if s.Effect = Effect(src.str(&m.val)); m.val.kind != kindString || (s.Effect != Allow && s.Effect != Deny) {
				err = errAt("", &m.val, fmt.Sprintf("must be \"Allow\" or \"Deny\", not %s", src.bytes(&m.val)))
			}
		case "Principal":
			s.Principal, err = b.principal(&m.val, &s.principal)
		case "NotPrincipal":
			s.NotPrincipal, err = b.principal(&m.val, &s.notPrincipal)
		case "Action":
			s.Action, err = b.values(&m.val, &s.action)
		case "NotAction": // Action and NotAction exclude each other (checked below)
			s.NotAction, err = b.values(&m.val, &s.action)
		case "Resource":
			s.Resource, err = b.values(&m.val, &s.resource)
		case "NotResource":
			s.NotResource, err = b.values(&m.val, &s.resource)
		case "Condition":
			s.Condition, err = b.condition(&m.val)
		default:
			err = caseConflict(key, &m.val, statementElements)
		}
		if err != nil {
			return nil, within(err, key)
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

// values fills out from v and returns it.
func (b *builder) values(v *value, out *Values) (*Values, error) {
	items, list, err := b.strings(v)
	if err != nil {
		return nil, err
	}
	*out = Values{Items: items, List: list}
	return out, nil
}

// principal fills p from v and returns it.
func (b *builder) principal(v *value, p *Principal) (*Principal, error) {
	src := b.src
	switch v.kind {
	case kindString:
		if s := src.str(v); s != "*" {
			return nil, errAt("", v, fmt.Sprintf("a principal string must be \"*\", not %q; name the type, as in {\"AWS\": ...}", s))
		}
		p.Wildcard = true
		return p, nil
	case kindObject:
		ms := src.members(v)
		p.Types = take(&b.types, len(ms))[:0]
		for i := range ms {
			m := &ms[i]
			name := src.key(m)
			items, list, err := b.strings(&m.val)
			if err != nil {
				return nil, within(err, name)
			}
			p.Types = append(p.Types, PrincipalType{Name: name, Values: items, List: list})
		}
		return p, nil
	}
	return nil, errAt("", v, "must be \"*\" or an object, not "+v.kind.String())
}

func (b *builder) condition(v *value) (Condition, error) {
	src := b.src
	if v.kind != kindObject {
		return nil, errAt("", v, "must be an object of operators, not "+v.kind.String())
	}
	ops := src.members(v)
	c := Condition(take(&b.ops, len(ops))[:0])
	for i := range ops {
		op := &ops[i]
		opName := src.key(op)
		if op.val.kind != kindObject {
			return nil, errAt(opName, &op.val, "must be an object of condition keys, not "+op.val.kind.String())
		}
		keys := src.members(&op.val)
		co := ConditionOperator{Operator: opName, Keys: take(&b.keys, len(keys))[:0]}
		for j := range keys {
			k := &keys[j]
			keyName := src.key(k)
			co.Keys = append(co.Keys, ConditionKey{Key: keyName})
			ck := &co.Keys[len(co.Keys)-1] // Keys has its final capacity: ck stays put
			switch k.val.kind {
			case kindString, kindNumber, kindBool:
				ck.Values = b.list(1)
				ck.Values[0] = src.str(&k.val)
			case kindArray:
				elems := src.members(&k.val)
				ck.Values = b.list(len(elems))[:0]
				for n := range elems {
					e := &elems[n].val
					if e.kind != kindString && e.kind != kindNumber && e.kind != kindBool {
						return nil, errAt(fmt.Sprintf("%s.%s[%d]", opName, keyName, n), e, "must be a string, number or boolean, not "+e.kind.String())
					}
					ck.Values = append(ck.Values, src.str(e))
				}
			default:
				return nil, errAt(opName+"."+keyName, &k.val, "must be a string, number, boolean or a list of them, not "+k.val.kind.String())
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

// WithNotPrincipal returns a copy of s whose NotPrincipal is p. Every other
// member keeps its exact source bytes. A nil p removes the NotPrincipal
// member; combined with WithPrincipal it turns the statement into one with a
// Principal written where the NotPrincipal stood.
func (s *Statement) WithNotPrincipal(p *Principal) *Statement {
	c := *s
	c.NotPrincipal = p
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
