package publish

import (
	"fmt"
	"strings"

	"github.com/iamguardrail/guardrail/pkg/decision"
)

// NotificationField is the member of a decision event's detail that holds
// Notification: one-line texts the stack's notification rule puts into a
// readable message with an input transformer (events/README.md).
const NotificationField = "notification"

// Notification is the readable part of a decision event: what happened,
// what changed and how to undo it, each on one line (an input transformer
// inserts string values as they are, so each must be one line).
type Notification struct {
	// Summary says in one sentence what the guardrail decided.
	Summary string `json:"summary"`
	// Changes lists the writes made, or that would be made, or that failed.
	Changes string `json:"changes"`
	// Removed lists the principals removed (or that would be) from the
	// trust policy; "none" when no principal was.
	Removed string `json:"removed"`
	// Undo holds the record's undo commands, separated by " ; ", or says
	// there is nothing to undo.
	Undo string `json:"undo"`
}

// Notify returns rec's Notification.
func Notify(rec decision.Record) Notification {
	role := rec.RoleARN
	if role == "" {
		role = cmpOr(rec.PolicyARN, "role "+rec.RoleName)
	}
	var verb string
	switch rec.Outcome {
	case decision.OutcomeChanged:
		verb = "changed"
	case decision.OutcomeWouldChange:
		verb = "would change (check mode, nothing written)"
	case decision.OutcomeError:
		verb = "failed to evaluate or fix"
	default:
		verb = "evaluated (" + string(rec.Outcome) + ")"
	}
	n := Notification{Summary: fmt.Sprintf("IAM role guardrail %s %s after %s by %s", verb, role, cmpOr(rec.EventName, "an evaluation"), cmpOr(rec.Actor, "unknown caller"))}
	var changes []string
	for _, a := range rec.Actions {
		c := a.API
		if a.Target != "" {
			c += " " + a.Target
		}
		c += " (" + string(a.Result)
		if a.Error != "" {
			c += ": " + a.Error
		}
		changes = append(changes, c+")")
	}
	if rec.Error != "" {
		changes = append(changes, "error: "+rec.Error)
	}
	n.Changes = oneLine(cmpOr(strings.Join(changes, "; "), "none"))
	var removed []string
	for _, f := range rec.Findings {
		if f.Control == decision.ControlTrust && f.Removed {
			removed = append(removed, f.Principal+" ("+f.Reason+")")
		}
	}
	n.Removed = oneLine(cmpOr(strings.Join(removed, "; "), "none"))
	n.Undo = "nothing to undo"
	if len(rec.Undo) > 0 {
		n.Undo = oneLine("exempt the role first, then run: " + strings.Join(rec.Undo, " ; "))
	}
	return n
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// oneLine replaces line breaks with spaces and leaves everything else as
// it is (an undo command's policy document must stay byte for byte).
func oneLine(s string) string { return lineBreaks.Replace(s) }

var lineBreaks = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")
