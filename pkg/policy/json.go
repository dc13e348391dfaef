package policy

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// This file holds a small strict JSON reader. Policies are read on every IAM
// event and thousands of times per sweep, and the model must keep the exact
// bytes of every element it does not change, so the reader records the raw
// span of each value instead of building maps. It accepts exactly RFC 8259
// JSON (checked against encoding/json by the fuzz target) and rejects
// duplicate object keys: two "Principal" members would let one reader see a
// different policy than IAM does, so such a document is refused outright.

// kind is the JSON type of a value.
type kind uint8

const (
	kindString kind = iota + 1
	kindNumber
	kindBool
	kindNull
	kindObject
	kindArray
)

func (k kind) String() string {
	switch k {
	case kindString:
		return "string"
	case kindNumber:
		return "number"
	case kindBool:
		return "boolean"
	case kindNull:
		return "null"
	case kindObject:
		return "object"
	case kindArray:
		return "array"
	}
	return "invalid"
}

// value is one parsed JSON value. It holds no pointers, only offsets into the
// document and into the tree's node array: the whole parse tree is one
// pointer-free array, which costs the garbage collector nothing to scan and
// the parser no write barriers to build.
type value struct {
	// offset and end delimit the exact source bytes of the value.
	offset, end int32
	// first and count locate an object's members in source order, or an
	// array's elements (with empty keys), in source.nodes.
	first, count int32
	kind         kind
	// escaped marks a string whose bytes are not its value (escapes or
	// non-ASCII): it is decoded by encoding/json when read.
	escaped bool
}

// member is one key/value pair of an object.
type member struct {
	val value
	// keyAt is the offset of the key's opening quote, keyEnd just past its
	// closing quote.
	keyAt, keyEnd int32
	keyEscaped    bool
}

// source is a parsed document: its bytes, which values' offsets refer to, and
// the node array holding every member and element. Parse hands over a buffer
// nobody writes to afterwards, so strings without escapes are views of it
// rather than copies (most of a policy is such strings).
type source struct {
	data  []byte
	nodes []member
}

// bytes returns the exact source bytes of v.
func (src source) bytes(v *value) []byte { return src.data[v.offset:v.end] }

// members returns the members of an object or the elements of an array.
func (src source) members(v *value) []member {
	return src.nodes[v.first : v.first+v.count : v.first+v.count]
}

// str returns a string value decoded, or the literal text of a number or boolean.
func (src source) str(v *value) string {
	switch {
	case v.kind != kindString:
		return view(src.data[v.offset:v.end])
	case !v.escaped:
		return view(src.data[v.offset+1 : v.end-1])
	}
	return decodeString(src.data[v.offset:v.end])
}

// key returns a member's key decoded.
func (src source) key(m *member) string {
	if !m.keyEscaped {
		return view(src.data[m.keyAt+1 : m.keyEnd-1])
	}
	return decodeString(src.data[m.keyAt:m.keyEnd])
}

// sameKey reports whether two members have the same key, comparing bytes
// unless an escape makes decoding necessary.
func (src source) sameKey(a, b *member) bool {
	if !a.keyEscaped && !b.keyEscaped {
		return string(src.data[a.keyAt:a.keyEnd]) == string(src.data[b.keyAt:b.keyEnd])
	}
	return src.key(a) == src.key(b)
}

// rawKey returns a member's key as written, quotes included.
func (src source) rawKey(m *member) []byte { return src.data[m.keyAt:m.keyEnd] }

// get returns the member of object v named key (exact match) and whether it exists.
func (src source) get(v *value, key string) (*value, bool) {
	ms := src.members(v)
	for i := range ms {
		if src.key(&ms[i]) == key {
			return &ms[i].val, true
		}
	}
	return nil, false
}

// decodeString decodes a quoted JSON string the reader has already checked.
// encoding/json handles \u surrogate pairs and replaces invalid UTF-8 exactly
// as Go does everywhere else.
func decodeString(quoted []byte) string {
	var s string
	_ = json.Unmarshal(quoted, &s) // checked by reader.string
	return s
}

// view returns b as a string without copying; b must never change.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// reader parses data, which it must not modify and which outlives the result.
type reader struct {
	data  []byte
	pos   int
	depth int
	// stack collects the members of the objects and arrays being read; each
	// moves to nodes, in one piece, when it closes.
	stack []member
	nodes []member
}

// stackPool recycles the readers' member stacks across documents.
var stackPool = sync.Pool{New: func() any { s := make([]member, 0, 64); return &s }}

// maxDepth bounds nesting so hostile input cannot exhaust the stack; IAM
// policies nest at most five levels deep.
const maxDepth = 64

// parseJSON reads exactly one JSON value from data, surrounded only by white
// space. The caller must not modify data afterwards: the result refers to it.
func parseJSON(data []byte) (value, source, error) {
	if len(data) > 1<<30 {
		return value{}, source{}, &Error{Msg: "document too large"}
	}
	stack := stackPool.Get().(*[]member)
	defer stackPool.Put(stack)
	r := reader{data: data, stack: (*stack)[:0]}
	defer func() { *stack = r.stack[:0] }()
	// Every member or element but the first of its container follows a
	// comma, so commas plus containers bound the node count: one allocation
	// serves the whole document.
	r.nodes = make([]member, 0, countMembers(data))
	r.skipSpace()
	v, err := r.value()
	if err != nil {
		return value{}, source{}, err
	}
	r.skipSpace()
	if r.pos != len(r.data) {
		return value{}, source{}, r.errorf("unexpected data after the top-level value")
	}
	return v, source{data: data, nodes: r.nodes}, nil
}

// countMembers returns an upper bound on the members and elements in data:
// one per comma and one per opening bracket or brace.
func countMembers(data []byte) int {
	return bytes.Count(data, comma) + bytes.Count(data, openBrace) + bytes.Count(data, openBracket)
}

var comma, openBrace, openBracket = []byte{','}, []byte{'{'}, []byte{'['}

// plain marks the bytes a string can hold as they are: not a quote, not a
// backslash, not a control character, ASCII.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (r *reader) errorf(msg string) error {
	return &Error{Offset: int64(r.pos), Msg: msg}
}

func (r *reader) skipSpace() {
	data, i := r.data, r.pos
	for i < len(data) && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r') {
		i++
	}
	r.pos = i
}

func (r *reader) value() (value, error) {
	if r.pos >= len(r.data) {
		return value{}, r.errorf("unexpected end of JSON input")
	}
	start := r.pos
	switch c := r.data[r.pos]; {
	case c == '{':
		return r.object()
	case c == '[':
		return r.array()
	case c == '"':
		escaped, err := r.string()
		if err != nil {
			return value{}, err
		}
		return value{kind: kindString, escaped: escaped, offset: int32(start), end: int32(r.pos)}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		if err := r.number(); err != nil {
			return value{}, err
		}
		return value{kind: kindNumber, offset: int32(start), end: int32(r.pos)}, nil
	case r.literal("true"), r.literal("false"):
		return value{kind: kindBool, offset: int32(start), end: int32(r.pos)}, nil
	case r.literal("null"):
		return value{kind: kindNull, offset: int32(start), end: int32(r.pos)}, nil
	default:
		return value{}, r.errorf("invalid character " + strconv.QuoteRune(rune(c)) + " looking for a value")
	}
}

func (r *reader) literal(lit string) bool {
	if len(r.data)-r.pos >= len(lit) && string(r.data[r.pos:r.pos+len(lit)]) == lit {
		r.pos += len(lit)
		return true
	}
	return false
}

// open enters the object or array whose opening bracket is at r.pos. It
// returns the container's value so far and where its members will start on
// the stack; done reports that the container was empty and v is complete.
func (r *reader) open(k kind, closing byte) (v value, mark int, done bool, err error) {
	start := r.pos
	if r.depth++; r.depth > maxDepth {
		return value{}, 0, false, r.errorf("JSON nested too deeply")
	}
	r.pos++ // '{' or '['
	v = value{kind: k, offset: int32(start)}
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == closing {
		r.close(&v)
		return v, len(r.stack), true, nil
	}
	return v, len(r.stack), false, nil
}

// close moves past the closing bracket of v and leaves its nesting level.
// An error ends the whole parse, so only successful returns need this.
func (r *reader) close(v *value) {
	r.pos++
	r.depth--
	v.end = int32(r.pos)
}

func (r *reader) object() (value, error) {
	v, mark, done, err := r.open(kindObject, '}')
	if done || err != nil {
		return v, err
	}
	src := source{data: r.data}
	for {
		r.skipSpace()
		if r.pos >= len(r.data) || r.data[r.pos] != '"' {
			return value{}, r.errorf("expected a string object key")
		}
		m := member{keyAt: int32(r.pos)}
		escaped, err := r.string()
		if err != nil {
			return value{}, err
		}
		m.keyEnd, m.keyEscaped = int32(r.pos), escaped
		for i := range r.stack[mark:] {
			if src.sameKey(&r.stack[mark+i], &m) {
				r.pos = int(m.keyAt)
				return value{}, r.errorf("duplicate key " + strconv.Quote(src.key(&m)))
			}
		}
		r.skipSpace()
		if r.pos >= len(r.data) || r.data[r.pos] != ':' {
			return value{}, r.errorf("expected ':' after object key")
		}
		r.pos++
		r.skipSpace()
		if m.val, err = r.value(); err != nil {
			return value{}, err
		}
		r.stack = append(r.stack, m)
		if done, err := r.next(&v, mark, '}', "object"); done || err != nil {
			return v, err
		}
	}
}

func (r *reader) array() (value, error) {
	v, mark, done, err := r.open(kindArray, ']')
	if done || err != nil {
		return v, err
	}
	for {
		r.skipSpace()
		elem, err := r.value()
		if err != nil {
			return value{}, err
		}
		r.stack = append(r.stack, member{val: elem})
		if done, err := r.next(&v, mark, ']', "array"); done || err != nil {
			return v, err
		}
	}
}

// next moves past what follows a member of v: a comma before the next
// member, or the closing bracket, which completes v with the members
// collected since mark (done). in names the container for errors.
func (r *reader) next(v *value, mark int, closing byte, in string) (done bool, err error) {
	r.skipSpace()
	if r.pos >= len(r.data) {
		return false, r.errorf("unexpected end of JSON input in " + in)
	}
	switch r.data[r.pos] {
	case ',':
		r.pos++
		return false, nil
	case closing:
		r.close(v)
		v.first, v.count = r.pop(mark)
		return true, nil
	}
	return false, r.errorf("expected ',' or '" + string(closing) + "' in " + in)
}

// pop moves the members collected since mark to the node array and returns
// where they are.
func (r *reader) pop(mark int) (first, count int32) {
	first, count = int32(len(r.nodes)), int32(len(r.stack)-mark)
	r.nodes = append(r.nodes, r.stack[mark:]...)
	r.stack = r.stack[:mark]
	return first, count
}

// string checks the JSON string starting at the opening quote and moves past
// it. escaped reports whether its bytes differ from its value: it has an
// escape, or bytes that are not valid UTF-8 (decoding replaces them).
func (r *reader) string() (escaped bool, err error) {
	start := r.pos
	r.pos++ // opening quote
	// The common case, plain ASCII up to the closing quote, in locals the
	// compiler keeps in registers.
	data, i := r.data, r.pos
	for i < len(data) && plain[data[i]] {
		i++
	}
	r.pos = i
	backslash, high := false, false
	for r.pos < len(r.data) {
		c := r.data[r.pos]
		switch {
		case c == '"':
			r.pos++
			return backslash || high && !utf8.Valid(r.data[start:r.pos]), nil
		case c == '\\':
			backslash = true
			if r.pos+1 >= len(r.data) {
				return false, r.errorf("unexpected end of JSON input in string")
			}
			switch r.data[r.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				r.pos += 2
			case 'u':
				if r.pos+6 > len(r.data) || !isHex4(r.data[r.pos+2:r.pos+6]) {
					return false, r.errorf("invalid \\u escape in string")
				}
				r.pos += 6
			default:
				return false, r.errorf("invalid escape in string")
			}
		case c < 0x20:
			return false, r.errorf("control character in string")
		case c >= utf8.RuneSelf:
			high = true
			r.pos++
		default:
			r.pos++
		}
	}
	return false, r.errorf("unexpected end of JSON input in string")
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// number checks the RFC 8259 number grammar.
func (r *reader) number() error {
	if r.data[r.pos] == '-' {
		r.pos++
	}
	switch {
	case r.pos < len(r.data) && r.data[r.pos] == '0':
		r.pos++
	case r.pos < len(r.data) && r.data[r.pos] >= '1' && r.data[r.pos] <= '9':
		r.digits()
	default:
		return r.errorf("invalid number")
	}
	if r.pos < len(r.data) && r.data[r.pos] == '.' {
		r.pos++
		if r.digits() == 0 {
			return r.errorf("invalid number: no digits after decimal point")
		}
	}
	if r.pos < len(r.data) && (r.data[r.pos] == 'e' || r.data[r.pos] == 'E') {
		r.pos++
		if r.pos < len(r.data) && (r.data[r.pos] == '+' || r.data[r.pos] == '-') {
			r.pos++
		}
		if r.digits() == 0 {
			return r.errorf("invalid number: no digits in exponent")
		}
	}
	return nil
}

func (r *reader) digits() int {
	data, i := r.data, r.pos
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	n := i - r.pos
	r.pos = i
	return n
}

// appendCompact appends raw JSON without insignificant white space.
func appendCompact(dst, raw []byte) []byte {
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inString {
			dst = append(dst, c)
			switch c {
			case '\\':
				if i+1 < len(raw) {
					i++
					dst = append(dst, raw[i])
				}
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
		case '"':
			inString = true
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
