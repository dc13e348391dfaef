package iamtest

import (
	"encoding/xml"
	"strconv"
	"strings"
	"time"
)

// iamNamespace is the XML namespace IAM puts on every response element.
const iamNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// xmlWriter builds IAM query-protocol XML. The element names follow the IAM
// API model exactly as the SDK's awsQuery deserializer reads them
// (<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…).
type xmlWriter struct{ b strings.Builder }

func (w *xmlWriter) open(name string)  { w.b.WriteString("<" + name + ">") }
func (w *xmlWriter) close(name string) { w.b.WriteString("</" + name + ">") }

// elem writes <name>text</name> with text escaped.
func (w *xmlWriter) elem(name, text string) {
	w.open(name)
	_ = xml.EscapeText(&w.b, []byte(text))
	w.close(name)
}

// elemIf writes the element only when text is not empty (IAM omits absent
// optional members rather than sending them empty).
func (w *xmlWriter) elemIf(name, text string) {
	if text != "" {
		w.elem(name, text)
	}
}

func (w *xmlWriter) boolean(name string, v bool) { w.elem(name, strconv.FormatBool(v)) }
func (w *xmlWriter) integer(name string, v int)  { w.elem(name, strconv.Itoa(v)) }

// timestamp writes an ISO 8601 UTC time, the form IAM uses (2019-04-18T18:09:15Z).
func (w *xmlWriter) timestamp(name string, t time.Time) {
	w.elem(name, t.UTC().Format(time.RFC3339))
}

func (w *xmlWriter) String() string { return w.b.String() }

// successBody wraps a result in the response envelope. A nil result yields
// the empty envelope IAM sends for actions without output (DeleteRole, …).
func successBody(action, requestID string, result func(*xmlWriter)) string {
	var w xmlWriter
	w.b.WriteString(`<` + action + `Response xmlns="` + iamNamespace + `">`)
	if result != nil {
		w.open(action + "Result")
		result(&w)
		w.close(action + "Result")
	}
	w.open("ResponseMetadata")
	w.elem("RequestId", requestID)
	w.close("ResponseMetadata")
	w.close(action + "Response")
	return w.String()
}

// errorBody renders an IAM <ErrorResponse>.
func errorBody(e *apiError, requestID string) string {
	var w xmlWriter
	w.b.WriteString(`<ErrorResponse xmlns="` + iamNamespace + `">`)
	w.open("Error")
	w.elem("Type", e.errType())
	w.elem("Code", e.code)
	w.elem("Message", e.message)
	w.close("Error")
	w.elem("RequestId", requestID)
	w.close("ErrorResponse")
	return w.String()
}
