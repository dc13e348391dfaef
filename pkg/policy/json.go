package policy

import (
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

// value is one parsed JSON value with its raw bytes.
type value struct {
	str string // decoded string (kindString) or literal text (number, bool)
	// members holds an object's members in source order, or an array's
	// elements (with empty keys).
	members []member
	// offset and end delimit the exact source bytes of the value.
	offset, end int32
	kind        kind
}

// bytes returns the exact source bytes of v within the document src.
func (v *value) bytes(src []byte) []byte { return src[v.offset:v.end] }

// member is one key/value pair of an object.
type member struct {
	key string
	val value
}

// get returns the member named key (exact match) and whether it exists.
func (v *value) get(key string) (*value, bool) {
	for i := range v.members {
		if v.members[i].key == key {
			return &v.members[i].val, true
		}
	}
	return nil, false
}

// reader parses data, which it owns: parseJSON's caller hands over a buffer
// nobody writes to afterwards, so decoded strings without escapes can share
// its memory instead of each being copied (most of a policy is such strings).
type reader struct {
	data  []byte
	pos   int
	depth int
	// stack collects the members of the objects and arrays being read; each
	// gets an exactly sized copy when it closes, one allocation apiece.
	stack []member
}

// stackPool recycles the readers' member stacks across documents.
var stackPool = sync.Pool{New: func() any { s := make([]member, 0, 64); return &s }}

// view returns b as a string without copying. b must be part of r.data.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack; IAM
// policies nest at most five levels deep.
const maxDepth = 64

// parseJSON reads exactly one JSON value from data, surrounded only by white
// space. The caller must not modify data afterwards: the result refers to it.
func parseJSON(data []byte) (value, error) {
	if len(data) > 1<<30 {
		return value{}, &Error{Msg: "document too large"}
	}
	stack := stackPool.Get().(*[]member)
	defer stackPool.Put(stack)
	r := reader{data: data, stack: (*stack)[:0]}
	defer func() { *stack = r.stack[:0] }()
	r.skipSpace()
	v, err := r.value()
	if err != nil {
		return value{}, err
	}
	r.skipSpace()
	if r.pos != len(r.data) {
		return value{}, r.errorf("unexpected data after the top-level value")
	}
	return v, nil
}

func (r *reader) errorf(msg string) error {
	return &Error{Offset: int64(r.pos), Msg: msg}
}

func (r *reader) skipSpace() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
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
		s, err := r.string()
		if err != nil {
			return value{}, err
		}
		return value{kind: kindString, str: s, offset: int32(start), end: int32(r.pos)}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		if err := r.number(); err != nil {
			return value{}, err
		}
		raw := r.data[start:r.pos]
		return value{kind: kindNumber, str: view(raw), offset: int32(start), end: int32(r.pos)}, nil
	case r.literal("true"), r.literal("false"):
		raw := r.data[start:r.pos]
		return value{kind: kindBool, str: view(raw), offset: int32(start), end: int32(r.pos)}, nil
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

func (r *reader) object() (value, error) {
	start := r.pos
	if r.depth++; r.depth > maxDepth {
		return value{}, r.errorf("JSON nested too deeply")
	}
	defer func() { r.depth-- }()
	r.pos++ // '{'
	v := value{kind: kindObject, offset: int32(start)}
	mark := len(r.stack)
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == '}' {
		r.pos++
		v.end = int32(r.pos)
		return v, nil
	}
	for {
		r.skipSpace()
		if r.pos >= len(r.data) || r.data[r.pos] != '"' {
			return value{}, r.errorf("expected a string object key")
		}
		keyAt := r.pos
		key, err := r.string()
		if err != nil {
			return value{}, err
		}
		for _, m := range r.stack[mark:] {
			if m.key == key {
				r.pos = keyAt
				return value{}, r.errorf("duplicate key " + strconv.Quote(key))
			}
		}
		r.skipSpace()
		if r.pos >= len(r.data) || r.data[r.pos] != ':' {
			return value{}, r.errorf("expected ':' after object key")
		}
		r.pos++
		r.skipSpace()
		val, err := r.value()
		if err != nil {
			return value{}, err
		}
		r.stack = append(r.stack, member{key: key, val: val})
		r.skipSpace()
		if r.pos >= len(r.data) {
			return value{}, r.errorf("unexpected end of JSON input in object")
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
		case '}':
			r.pos++
			v.end = int32(r.pos)
			v.members = r.pop(mark)
			return v, nil
		default:
			return value{}, r.errorf("expected ',' or '}' in object")
		}
	}
}

func (r *reader) array() (value, error) {
	start := r.pos
	if r.depth++; r.depth > maxDepth {
		return value{}, r.errorf("JSON nested too deeply")
	}
	defer func() { r.depth-- }()
	r.pos++ // '['
	v := value{kind: kindArray, offset: int32(start)}
	mark := len(r.stack)
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == ']' {
		r.pos++
		v.end = int32(r.pos)
		return v, nil
	}
	for {
		r.skipSpace()
		elem, err := r.value()
		if err != nil {
			return value{}, err
		}
		r.stack = append(r.stack, member{val: elem})
		r.skipSpace()
		if r.pos >= len(r.data) {
			return value{}, r.errorf("unexpected end of JSON input in array")
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
		case ']':
			r.pos++
			v.end = int32(r.pos)
			v.members = r.pop(mark)
			return v, nil
		default:
			return value{}, r.errorf("expected ',' or ']' in array")
		}
	}
}

// pop removes the members collected since mark and returns them as a new slice.
func (r *reader) pop(mark int) []member {
	out := make([]member, len(r.stack)-mark)
	copy(out, r.stack[mark:])
	clear(r.stack[mark:]) // drop references for the garbage collector
	r.stack = r.stack[:mark]
	return out
}

// string reads a JSON string starting at the opening quote and returns it decoded.
func (r *reader) string() (string, error) {
	start := r.pos
	r.pos++ // opening quote
	plain := true
	for r.pos < len(r.data) {
		c := r.data[r.pos]
		switch {
		case c == '"':
			r.pos++
			if plain {
				return view(r.data[start+1 : r.pos-1]), nil
			}
			// Escapes are rare in policies; let encoding/json decode them so
			// \u surrogate pairs and invalid UTF-8 are handled exactly as Go does.
			var s string
			if err := json.Unmarshal(r.data[start:r.pos], &s); err != nil {
				r.pos = start
				return "", r.errorf("invalid string: " + err.Error())
			}
			return s, nil
		case c == '\\':
			plain = false
			if r.pos+1 >= len(r.data) {
				return "", r.errorf("unexpected end of JSON input in string")
			}
			switch r.data[r.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				r.pos += 2
			case 'u':
				if r.pos+6 > len(r.data) || !isHex4(r.data[r.pos+2:r.pos+6]) {
					return "", r.errorf("invalid \\u escape in string")
				}
				r.pos += 6
			default:
				return "", r.errorf("invalid escape in string")
			}
		case c < 0x20:
			return "", r.errorf("control character in string")
		case c >= utf8.RuneSelf:
			// Invalid UTF-8 is replaced by U+FFFD on decoding, which would
			// change the bytes we write back; take the slow path.
			plain = false
			r.pos++
		default:
			r.pos++
		}
	}
	return "", r.errorf("unexpected end of JSON input in string")
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
	n := 0
	for r.pos < len(r.data) && r.data[r.pos] >= '0' && r.data[r.pos] <= '9' {
		r.pos++
		n++
	}
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
