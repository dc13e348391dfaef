// Package report summarizes decision records for auditors and operators:
// counts by outcome and class, every principal removed (or that check mode
// would remove) with its role and time, the errors, the roles still not
// compliant, and the latest sweep; rendered as text, Markdown or one
// self-contained HTML page. It reads the JSON lines the Lambdas write (a
// file, stdin, or CloudWatch Logs through `guardrail report --log-group`).
package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
)

// The slog messages of the lines a report reads (pkg/decision.Message and
// the sweeper's summary); other lines are skipped.
const (
	decisionMessage = "decision"
	summaryMessage  = "sweep summary"
)

// Record is the part of a decision record a report uses; the names are the
// record's JSON names (pkg/decision.Record).
type Record struct {
	Timestamp time.Time `json:"timestamp"`
	Msg       string    `json:"msg"`
	EventID   string    `json:"event_id"`
	EventName string    `json:"event_name"`
	EventTime time.Time `json:"event_time"`
	Actor     string    `json:"actor"`
	Account   string    `json:"account"`
	RoleARN   string    `json:"role_arn"`
	RoleName  string    `json:"role_name"`
	Class     string    `json:"class"`
	Mode      struct {
		Trust    string `json:"trust"`
		Lockdown string `json:"lockdown"`
	} `json:"mode"`
	Outcome  string `json:"outcome"`
	Lockdown string `json:"lockdown"`
	Findings []struct {
		Control   string `json:"control"`
		Principal string `json:"principal"`
		Kind      string `json:"kind"`
		Reason    string `json:"reason"`
		Removed   bool   `json:"removed"`
	} `json:"findings"`
	Error     string `json:"error"`
	PolicyARN string `json:"policy_arn"`
}

// Sweep is the part of a sweep summary a report uses.
type Sweep struct {
	Timestamp   time.Time      `json:"timestamp"`
	Level       string         `json:"level"`
	Listed      int            `json:"listed"`
	Compliant   int            `json:"compliant"`
	Changed     int            `json:"changed"`
	WouldChange int            `json:"would_change"`
	Skipped     int            `json:"skipped"`
	Errors      int            `json:"errors"`
	Left        int            `json:"left"`
	Classes     map[string]int `json:"classes"`
	Error       string         `json:"error"`
}

// Removal is one principal removed from a trust policy (or that would be,
// in check mode).
type Removal struct {
	Time      time.Time
	Role      string
	Principal string
	Reason    string
	Would     bool // check mode: not removed, would be
}

// Problem is a record that failed, or a role whose latest record says it
// is not compliant.
type Problem struct {
	Time    time.Time
	Subject string // role ARN, policy ARN or event
	Event   string
	Outcome string
	Detail  string
}

// Count is one row of a count table.
type Count struct {
	Name string
	N    int
}

// Summary is what a report says.
type Summary struct {
	From, To     time.Time // first and last record
	Records      int       // decision records read
	Skipped      int       // lines that were not decision records or sweep summaries
	ByOutcome    []Count
	ByClass      []Count
	Removed      []Removal
	Errors       []Problem
	NonCompliant []Problem // roles whose latest record is would-change or error
	LastSweep    *Sweep
}

// Read summarizes the JSON lines of r. Lines that are not JSON objects, or
// are neither decision records nor sweep summaries, are counted in Skipped
// (a log group also holds the runtime's lines and the metric lines).
func Read(r io.Reader) (Summary, error) {
	var s Summary
	outcomes, classes := map[string]int{}, map[string]int{}
	latest := map[string]Record{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		var head struct {
			Msg string `json:"msg"`
		}
		if len(b) == 0 || json.Unmarshal(b, &head) != nil || (head.Msg != decisionMessage && head.Msg != summaryMessage) {
			s.Skipped++
			continue
		}
		if head.Msg == summaryMessage {
			var sw Sweep
			if err := json.Unmarshal(b, &sw); err != nil {
				return Summary{}, fmt.Errorf("line %d: sweep summary: %w", line, err)
			}
			if s.LastSweep == nil || !sw.Timestamp.Before(s.LastSweep.Timestamp) {
				s.LastSweep = &sw
			}
			continue
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return Summary{}, fmt.Errorf("line %d: decision record: %w", line, err)
		}
		s.Records++
		if s.From.IsZero() || rec.Timestamp.Before(s.From) {
			s.From = rec.Timestamp
		}
		if rec.Timestamp.After(s.To) {
			s.To = rec.Timestamp
		}
		outcomes[rec.Outcome]++
		if rec.Class != "" {
			classes[rec.Class]++
		}
		for _, f := range rec.Findings {
			if f.Control == "trust" && f.Removed {
				s.Removed = append(s.Removed, Removal{Time: rec.Timestamp, Role: rec.RoleARN, Principal: f.Principal, Reason: f.Reason, Would: rec.Outcome == "would-change"})
			}
		}
		if rec.Outcome == "error" {
			s.Errors = append(s.Errors, problem(rec, rec.Error))
		}
		if key := subject(rec); rec.Outcome != "ignored" && key != "" {
			if prev, ok := latest[key]; !ok || !rec.Timestamp.Before(prev.Timestamp) {
				latest[key] = rec
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Summary{}, fmt.Errorf("read records: %w", err)
	}
	s.ByOutcome, s.ByClass = counts(outcomes), counts(classes)
	for _, rec := range latest {
		switch {
		case rec.Outcome == "would-change":
			s.NonCompliant = append(s.NonCompliant, problem(rec, "check mode: "+wouldDo(rec)))
		case rec.Outcome == "error":
			s.NonCompliant = append(s.NonCompliant, problem(rec, rec.Error))
		case rec.Lockdown == "failed":
			s.NonCompliant = append(s.NonCompliant, problem(rec, "lockdown failed"))
		}
	}
	sort.Slice(s.NonCompliant, func(i, j int) bool { return s.NonCompliant[i].Subject < s.NonCompliant[j].Subject })
	sort.SliceStable(s.Removed, func(i, j int) bool { return s.Removed[i].Time.Before(s.Removed[j].Time) })
	sort.SliceStable(s.Errors, func(i, j int) bool { return s.Errors[i].Time.Before(s.Errors[j].Time) })
	return s, nil
}

func subject(rec Record) string {
	switch {
	case rec.RoleARN != "":
		return rec.RoleARN
	case rec.PolicyARN != "":
		return rec.PolicyARN
	}
	return ""
}

func problem(rec Record, detail string) Problem {
	sub := subject(rec)
	if sub == "" {
		sub = "role " + rec.RoleName
		if rec.RoleName == "" {
			sub = "event " + rec.EventID
		}
	}
	return Problem{Time: rec.Timestamp, Subject: sub, Event: rec.EventName, Outcome: rec.Outcome, Detail: detail}
}

func wouldDo(rec Record) string {
	n := 0
	for _, f := range rec.Findings {
		if f.Removed {
			n++
		}
	}
	out := fmt.Sprintf("%d principal(s) to remove", n)
	if rec.Lockdown == "would-attach" {
		out += ", lockdown to attach"
	}
	return out
}

// counts returns the map's entries, most frequent first, then by name.
func counts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Name < out[j].Name
	})
	return out
}
