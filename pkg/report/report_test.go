package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden reports in testdata/")

// demoRecords are the records of `make demo` (testdata/demo/decisions.jsonl
// at the repository root, kept in step with the bootstraps by the demo test).
const demoRecords = "../../testdata/demo/decisions.jsonl"

func demoSummary(t *testing.T) Summary {
	t.Helper()
	f, err := os.Open(demoRecords)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The report over the demo's records, in every format, is the golden file
// (go test ./pkg/report -update rewrites them after a deliberate change).
func TestGolden(t *testing.T) {
	s := demoSummary(t)
	for format, file := range map[string]string{Text: "demo.txt", Markdown: "demo.md", HTML: "demo.html"} {
		var buf bytes.Buffer
		if err := Write(&buf, s, format); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", file)
		if *update {
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./pkg/report -update writes it)", err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s report differs from %s:\n%s", format, path, buf.String())
		}
	}
}

// What the demo did shows in the report: the foreign account and the
// wildcard removed, no error, the sweep.
func TestDemoContent(t *testing.T) {
	s := demoSummary(t)
	var buf bytes.Buffer
	Write(&buf, s, Text)
	for _, want := range []string{"partner-reporting", "AWS:arn:aws:iam::999988887777:root", "legacy-batch", "Errors (0)", "Roles still not compliant (0)",
		"11 roles listed", "classes: service 7"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
	if s.Records == 0 || s.LastSweep == nil || len(s.Removed) == 0 {
		t.Errorf("summary %+v", s)
	}
}

// The HTML page is well formed (it parses strictly, and what the parser
// reads renders back and parses to the same tokens) and names no
// external resource: no URL, no script, no stylesheet link.
func TestHTMLSelfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, demoSummary(t), HTML); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	first := tokens(t, page)
	var round bytes.Buffer
	enc := xml.NewEncoder(&round)
	for _, tok := range first {
		if err := enc.EncodeToken(tok); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	}
	enc.Flush()
	second := tokens(t, round.String())
	if len(first) != len(second) {
		t.Errorf("round trip: %d tokens, then %d", len(first), len(second))
	}
	if regexp.MustCompile(`(?i)https?://|src=|<link|<script|url\(|@import`).MatchString(page) {
		t.Errorf("the page names an external resource:\n%s", page)
	}
	if !strings.Contains(page, "<table>") || !strings.Contains(page, "999988887777") {
		t.Error("the page lacks the removals table")
	}
}

// tokens parses page strictly (HTML5 written as well-formed markup).
func tokens(t *testing.T, page string) []xml.Token {
	t.Helper()
	page = strings.TrimPrefix(page, "<!DOCTYPE html>\n")
	dec := xml.NewDecoder(strings.NewReader(page))
	var out []xml.Token
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("the page does not parse: %v", err)
		}
		out = append(out, xml.CopyToken(tok))
	}
}

// Errors, check-mode roles and the latest record per role; lines that are
// not records are skipped; values are escaped in HTML and Markdown.
func TestSummaryRules(t *testing.T) {
	in := strings.Join([]string{
		`START RequestId: 1 Version: $LATEST`,
		`{"_aws":{"Timestamp":1},"RolesNonCompliant":1}`,
		`{"timestamp":"2026-03-01T10:00:00Z","msg":"decision","role_arn":"arn:aws:iam::111122223333:role/a","class":"service","outcome":"would-change","lockdown":"would-attach","findings":[{"control":"trust","principal":"AWS:*","reason":"anyone <script>","removed":true}]}`,
		`{"timestamp":"2026-03-01T11:00:00Z","msg":"decision","role_arn":"arn:aws:iam::111122223333:role/b","class":"service","outcome":"error","error":"AccessDenied | x"}`,
		`{"timestamp":"2026-03-01T12:00:00Z","msg":"decision","role_arn":"arn:aws:iam::111122223333:role/b","class":"service","outcome":"compliant"}`,
		`{"timestamp":"2026-03-01T09:00:00Z","msg":"decision","role_arn":"arn:aws:iam::111122223333:role/c","class":"service","outcome":"compliant"}`,
		`{"timestamp":"2026-03-01T13:00:00Z","msg":"decision","role_arn":"arn:aws:iam::111122223333:role/c","class":"service","outcome":"error","error":"Throttling"}`,
	}, "\n")
	s, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if s.Records != 5 || s.Skipped != 2 || len(s.Errors) != 2 || len(s.Removed) != 1 || !s.Removed[0].Would {
		t.Fatalf("summary %+v", s)
	}
	// b recovered after its error; a (check mode) and c (latest: error) did not.
	if len(s.NonCompliant) != 2 || !strings.HasSuffix(s.NonCompliant[0].Subject, "role/a") || !strings.HasSuffix(s.NonCompliant[1].Subject, "role/c") {
		t.Errorf("non-compliant %+v", s.NonCompliant)
	}
	var h, m bytes.Buffer
	Write(&h, s, HTML)
	Write(&m, s, Markdown)
	if strings.Contains(h.String(), "<script>") || !strings.Contains(h.String(), "&lt;script&gt;") {
		t.Error("HTML does not escape record values")
	}
	if !strings.Contains(m.String(), `AccessDenied \| x`) {
		t.Errorf("Markdown does not escape a pipe:\n%s", m.String())
	}
	if err := Write(io.Discard, s, "pdf"); err == nil {
		t.Error("unknown format accepted")
	}
	if _, err := Read(strings.NewReader(`{"msg":"decision","timestamp":"not a time"}`)); err == nil {
		t.Error("a malformed record accepted")
	}
}
