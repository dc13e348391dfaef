package guardrail

import (
	"errors"

	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/policy"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// Stage 4: record. The decision record is written here, once, from the
// state read, the plan and the actions applied: the outcome and the
// lockdown state are derived in one place (outcomeOf, lockdownState).

// record builds the record of a role evaluation. st is nil when the role
// could not be read, p when the evaluation stopped before planning, a when
// it stopped before applying; gone says the role no longer exists.
func (r *run) record(st *roleState, p *plan, a *applied, gone bool) (decision.Record, error) {
	rec := r.base()
	rec.RoleName = r.name
	rec.Account = r.t.Account
	if gone {
		rec.Outcome = decision.OutcomeRoleGone
		return r.finish(rec)
	}
	if st != nil {
		rec.RoleName, rec.RolePath, rec.RoleARN, rec.Account = st.name, st.path, st.arn, st.account
		rec.Class, rec.ClassReason = string(st.class.Class), st.class.Reason
		if before := st.trustDoc; st.current != nil {
			rec.TrustPolicyBefore = mustJSON(st.current)
		} else if before != nil {
			rec.TrustPolicyBefore = mustJSON(before)
		}
	}
	if p == nil {
		return r.finish(rec)
	}
	if a == nil {
		a = &applied{}
	}
	r.recordPlan(&rec, p, a)
	rec.Lockdown = lockdownState(p, a.actions)
	if !p.applies {
		rec.Outcome = decision.OutcomeSkipped
	}
	return r.finish(rec)
}

// recordPlan copies the controls' verdicts and the applied actions.
func (r *run) recordPlan(rec *decision.Record, p *plan, a *applied) {
	if !p.applies {
		if p.exempt != nil {
			rec.Principals = principals(p.exempt.Principals)
			for _, f := range p.exempt.Findings {
				f.Removed = false // nothing is removed from a role the guardrail never touches
				rec.Findings = append(rec.Findings, f)
			}
		}
		return
	}
	if t := p.trust; !t.skip && t.err == nil {
		rec.Principals = principals(t.res.Principals)
		rec.Findings = append(rec.Findings, t.res.Findings...)
		if t.writes() && t.afterErr == nil {
			rec.TrustPolicyAfter = t.after
		}
		if t.restore != "" {
			rec.Findings = append(rec.Findings, decision.Finding{Control: decision.ControlTrust, Policy: MarkerTagKey,
				Reason: t.restore})
		}
	}
	if p.lockdown.missing() {
		rec.Findings = append(rec.Findings, decision.Finding{
			Control: decision.ControlLockdown, Policy: r.e.cfg.LockdownPolicyARN,
			Reason: "lockdown policy is not attached", Removed: false,
		})
	}
	rec.Findings = append(rec.Findings, a.findings...)
	rec.Actions, rec.Undo, rec.RevokedSessionsBefore = a.actions, a.undo, a.revokedBefore
}

// lockdownState is the lockdown control's state after a role evaluation:
// from the plan when nothing was to be done, else from the last lockdown
// action (the inline fallback follows a failed attach).
func lockdownState(p *plan, actions []decision.Action) decision.Lockdown {
	switch {
	case !p.applies || p.lockdown.skip:
		return decision.LockdownSkipped
	case p.lockdown.err != nil:
		return decision.LockdownFailed
	case p.lockdown.present != "":
		return p.lockdown.present
	}
	var state decision.Lockdown
	for _, act := range actions {
		if act.Control != decision.ControlLockdown {
			continue
		}
		switch {
		case act.Result == decision.ResultWould:
			state = decision.LockdownWouldAttach
		case act.Result == decision.ResultFailed:
			state = decision.LockdownFailed
		case act.API == "AttachRolePolicy":
			state = decision.LockdownAttached
		default:
			state = decision.LockdownInline
		}
	}
	return state
}

// base is the part of every record that the trigger and the engine give.
func (r *run) base() decision.Record {
	t := r.t
	rec := decision.Record{
		EventID: t.EventID, EventName: t.EventName, EventTime: t.EventTime, Actor: t.Actor,
		Mode:    decision.Modes{Trust: r.e.cfg.TrustMode, Lockdown: r.e.cfg.LockdownMode},
		Version: r.e.version,
	}
	rec.DeliveryLagMS = decision.DeliveryLag(t.EventTime, t.ReceivedAt)
	rec.Recheck = t.Recheck
	return rec
}

// finish completes a record: the consistency figures, duration, calls,
// and the outcome: error when anything failed, else the one given, else
// outcomeOf the actions.
func (r *run) finish(rec decision.Record) (decision.Record, error) {
	rec.ReadConsistent, rec.StaleReads = r.consistent, r.staleReads
	rec.DurationMS = r.e.now().Sub(r.start).Milliseconds()
	rec.APICalls = r.calls
	if err := errors.Join(r.errs...); err != nil {
		rec.Outcome = decision.OutcomeError
		rec.Error = err.Error()
		return rec, err
	}
	if rec.Outcome == "" {
		rec.Outcome = outcomeOf(rec.Actions)
	}
	return rec, nil
}

func outcomeOf(actions []decision.Action) decision.Outcome {
	out := decision.OutcomeCompliant
	for _, a := range actions {
		switch a.Result {
		case decision.ResultDone:
			return decision.OutcomeChanged
		case decision.ResultWould:
			out = decision.OutcomeWouldChange
		}
	}
	return out
}

// principals lists a trust result's principals for the record: never nil,
// so a role without principals shows [].
func principals(ps []trust.Principal) []decision.Principal {
	return append(make([]decision.Principal, 0, len(ps)), ps...)
}

// mustJSON renders a parsed document as compact JSON for the record.
func mustJSON(d *policy.Document) []byte {
	b, err := d.MarshalJSON()
	if err != nil {
		return nil
	}
	return b
}
