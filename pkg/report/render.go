package report

import (
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Formats Write accepts.
const (
	Text     = "text"
	Markdown = "markdown"
	HTML     = "html"
)

// Write renders s in format (Text, Markdown or HTML).
func Write(w io.Writer, s Summary, format string) error {
	switch format {
	case Text:
		return writeText(w, s)
	case Markdown:
		return writeMarkdown(w, s)
	case HTML:
		return htmlPage.Execute(w, s)
	}
	return fmt.Errorf("format %q is not %s, %s or %s", format, Text, Markdown, HTML)
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func removedVerb(r Removal) string {
	if r.Would {
		return "would remove (check mode)"
	}
	return "removed"
}

func writeText(w io.Writer, s Summary) error {
	var b strings.Builder
	fmt.Fprintf(&b, "IAM role guardrail report\n%d decision records from %s to %s\n", s.Records, ts(s.From), ts(s.To))
	section := func(title string) { fmt.Fprintf(&b, "\n%s\n%s\n", title, strings.Repeat("-", len(title))) }
	table := func(header string, rows [][]string) {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, header)
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		tw.Flush()
	}
	section("Decisions by outcome")
	table("OUTCOME\tRECORDS", countRows(s.ByOutcome))
	section("Decisions by class")
	table("CLASS\tRECORDS", countRows(s.ByClass))
	section(fmt.Sprintf("Principals removed (%d)", len(s.Removed)))
	if len(s.Removed) == 0 {
		b.WriteString("none\n")
	} else {
		table("TIME\tROLE\tPRINCIPAL\tACTION\tREASON", removalRows(s.Removed))
	}
	section(fmt.Sprintf("Errors (%d)", len(s.Errors)))
	problems(&b, s.Errors, table)
	section(fmt.Sprintf("Roles still not compliant (%d)", len(s.NonCompliant)))
	problems(&b, s.NonCompliant, table)
	section("Latest sweep")
	if sw := s.LastSweep; sw == nil {
		b.WriteString("no sweep summary in these records\n")
	} else {
		fmt.Fprintf(&b, "%s: %d roles listed, %d compliant, %d changed, %d would change, %d skipped, %d errors, %d left\n",
			ts(sw.Timestamp), sw.Listed, sw.Compliant, sw.Changed, sw.WouldChange, sw.Skipped, sw.Errors, sw.Left)
		if cs := classRows(sw.Classes); len(cs) > 0 {
			fmt.Fprintf(&b, "classes: %s\n", strings.Join(cs, ", "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func problems(b *strings.Builder, ps []Problem, table func(string, [][]string)) {
	if len(ps) == 0 {
		b.WriteString("none\n")
		return
	}
	var rows [][]string
	for _, p := range ps {
		rows = append(rows, []string{ts(p.Time), p.Subject, p.Event, p.Outcome, p.Detail})
	}
	table("TIME\tSUBJECT\tEVENT\tOUTCOME\tDETAIL", rows)
}

func countRows(cs []Count) [][]string {
	var rows [][]string
	for _, c := range cs {
		rows = append(rows, []string{c.Name, fmt.Sprint(c.N)})
	}
	return rows
}

func removalRows(rs []Removal) [][]string {
	var rows [][]string
	for _, r := range rs {
		rows = append(rows, []string{ts(r.Time), r.Role, r.Principal, removedVerb(r), r.Reason})
	}
	return rows
}

func classRows(m map[string]int) []string {
	var out []string
	for _, c := range counts(m) {
		out = append(out, fmt.Sprintf("%s %d", c.Name, c.N))
	}
	return out
}

// md escapes a table cell: pipes and line breaks would end it.
func md(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "`", "'").Replace(s)
}

func writeMarkdown(w io.Writer, s Summary) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# IAM role guardrail report\n\n%d decision records from %s to %s.\n", s.Records, ts(s.From), ts(s.To))
	table := func(header []string, rows [][]string) {
		if len(rows) == 0 {
			b.WriteString("None.\n")
			return
		}
		fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat(" --- |", len(header)))
		for _, r := range rows {
			cells := make([]string, len(r))
			for i, c := range r {
				cells[i] = md(c)
			}
			fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
		}
	}
	b.WriteString("\n## Decisions by outcome\n\n")
	table([]string{"Outcome", "Records"}, countRows(s.ByOutcome))
	b.WriteString("\n## Decisions by class\n\n")
	table([]string{"Class", "Records"}, countRows(s.ByClass))
	fmt.Fprintf(&b, "\n## Principals removed (%d)\n\n", len(s.Removed))
	table([]string{"Time", "Role", "Principal", "Action", "Reason"}, removalRows(s.Removed))
	for _, sec := range []struct {
		title string
		ps    []Problem
	}{{"Errors", s.Errors}, {"Roles still not compliant", s.NonCompliant}} {
		fmt.Fprintf(&b, "\n## %s (%d)\n\n", sec.title, len(sec.ps))
		var rows [][]string
		for _, p := range sec.ps {
			rows = append(rows, []string{ts(p.Time), p.Subject, p.Event, p.Outcome, p.Detail})
		}
		table([]string{"Time", "Subject", "Event", "Outcome", "Detail"}, rows)
	}
	b.WriteString("\n## Latest sweep\n\n")
	if sw := s.LastSweep; sw == nil {
		b.WriteString("No sweep summary in these records.\n")
	} else {
		fmt.Fprintf(&b, "%s: %d roles listed, %d compliant, %d changed, %d would change, %d skipped, %d errors, %d left.\n",
			ts(sw.Timestamp), sw.Listed, sw.Compliant, sw.Changed, sw.WouldChange, sw.Skipped, sw.Errors, sw.Left)
		if cs := classRows(sw.Classes); len(cs) > 0 {
			fmt.Fprintf(&b, "Classes: %s.\n", strings.Join(cs, ", "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// htmlPage is one self-contained page: inline style, no script, no image,
// no external URL (html/template escapes every value).
var htmlPage = htmltemplate.Must(htmltemplate.New("report").Funcs(htmltemplate.FuncMap{
	"ts": ts, "verb": removedVerb, "classes": classRows,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>IAM role guardrail report</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #1b1b1b; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #c8c8c8; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.n { text-align: right; }
code { font-size: 0.95em; }
.none { color: #5a5a5a; }
</style>
</head>
<body>
<h1>IAM role guardrail report</h1>
<p>{{.Records}} decision records from {{ts .From}} to {{ts .To}}.</p>
<h2>Decisions by outcome</h2>
{{if .ByOutcome}}<table><tr><th>Outcome</th><th>Records</th></tr>
{{range .ByOutcome}}<tr><td>{{.Name}}</td><td class="n">{{.N}}</td></tr>
{{end}}</table>{{else}}<p class="none">None.</p>{{end}}
<h2>Decisions by class</h2>
{{if .ByClass}}<table><tr><th>Class</th><th>Records</th></tr>
{{range .ByClass}}<tr><td>{{.Name}}</td><td class="n">{{.N}}</td></tr>
{{end}}</table>{{else}}<p class="none">None.</p>{{end}}
<h2>Principals removed ({{len .Removed}})</h2>
{{if .Removed}}<table><tr><th>Time</th><th>Role</th><th>Principal</th><th>Action</th><th>Reason</th></tr>
{{range .Removed}}<tr><td>{{ts .Time}}</td><td><code>{{.Role}}</code></td><td><code>{{.Principal}}</code></td><td>{{verb .}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>{{else}}<p class="none">None.</p>{{end}}
<h2>Errors ({{len .Errors}})</h2>
{{template "problems" .Errors}}
<h2>Roles still not compliant ({{len .NonCompliant}})</h2>
{{template "problems" .NonCompliant}}
<h2>Latest sweep</h2>
{{with .LastSweep}}<p>{{ts .Timestamp}}: {{.Listed}} roles listed, {{.Compliant}} compliant, {{.Changed}} changed, {{.WouldChange}} would change, {{.Skipped}} skipped, {{.Errors}} errors, {{.Left}} left.</p>
{{with classes .Classes}}<p>Classes: {{range $i, $c := .}}{{if $i}}, {{end}}{{$c}}{{end}}.</p>{{end}}{{else}}<p class="none">No sweep summary in these records.</p>{{end}}
</body>
</html>
{{define "problems"}}{{if .}}<table><tr><th>Time</th><th>Subject</th><th>Event</th><th>Outcome</th><th>Detail</th></tr>
{{range .}}<tr><td>{{ts .Time}}</td><td><code>{{.Subject}}</code></td><td>{{.Event}}</td><td>{{.Outcome}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>{{else}}<p class="none">None.</p>{{end}}{{end}}`))
