package trust

import (
	"strconv"
	"strings"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// IAM admits a caller only if an Allow statement admits it and no Deny
// statement refuses it (IAM User Guide, reference_policies_evaluation-logic:
// "an explicit deny in any policy overrides any allows"). So a Deny
// statement of the same trust policy confines an Allow when, read whole, it
// refuses every caller outside the zone: it names every such caller (its
// Principal is the wildcard, or its NotPrincipal excepts only principals of
// the zone), it refuses every action the Allow grants, it applies to the
// role whatever the Resource, and its Condition holds for every outsider,
// present keys and absent ones alike, with no condition on any other key
// (an outsider could avoid that one). A Deny that refuses only some
// outsiders, some actions, or only under an extra condition confines
// nothing; the engine then judges the Allow on its own.

// denyOrJoint returns what confines the outsiders of domain d by way of
// the policy's Deny statements: one Deny that refuses them all, or the
// statement's condition and single-key Deny statements read together.
func (c *stmtCtx) denyOrJoint(typ, val string, d *domain) string {
	if by := c.denyConfines(typ, val, d); by != "" {
		return by
	}
	return c.jointConfines(typ, val, d)
}

// denyConfines returns a description of the first Deny statement of the
// policy that refuses, to every caller outside the zone that the principal
// typ/val stands for, every action of the statement being judged; or "".
// Callers outside the zone are those of domain d.
func (c *stmtCtx) denyConfines(typ, val string, d *domain) string {
	if c.doc == nil {
		return ""
	}
	for i, s := range c.doc.Statements {
		if s.Effect != policy.Deny {
			continue
		}
		if !coversPrincipal(s, typ, val, c.z) || !coversActions(s, c.s) || !anyResource(s) || !d.refusesAll(s.Condition) {
			continue
		}
		by := "Deny statement " + strconv.Itoa(i)
		if s.Sid != "" {
			by += " (" + strconv.Quote(s.Sid) + ")"
		}
		if len(s.Condition) > 0 {
			var buf [8]atom
			as, _, _ := d.atoms(s.Condition, buf[:0])
			by += " with " + describe(as, all64(len(as)))
		}
		return by
	}
	return ""
}

// coversPrincipal reports whether Deny statement s names every caller that
// the Allow's principal typ/val may stand for. "*" and {"AWS": "*"} name
// everyone (IAM User Guide, reference_policies_elements_principal, anonymous
// principals: the two forms are equivalent). A NotPrincipal names everyone
// but the principals it lists, so it covers the outsiders only when each
// value it lists of the judged type is inside the zone (a deleted
// principal's unique ID excepts no one); for the wildcard, every value of
// any type must be.
func coversPrincipal(s *policy.Statement, typ, val string, z *Zone) bool {
	if p := s.Principal; p != nil {
		if p.Wildcard {
			return true
		}
		for _, t := range p.Types {
			for _, v := range t.Values {
				if t.Name == "AWS" && v == "*" {
					return true
				}
				if t.Name == typ && typ != "AWS" && strings.EqualFold(v, val) {
					return true
				}
			}
		}
		return false
	}
	np := s.NotPrincipal
	if np == nil || np.Wildcard {
		return false
	}
	for _, t := range np.Types {
		for _, v := range t.Values {
			switch {
			case t.Name == "AWS" && (typ == "*" || typ == "AWS"):
				if !awsInZone(v, z) {
					return false
				}
			case typ == "*":
				return false
			case t.Name == typ && (v == "*" || strings.EqualFold(v, val)):
				return false
			}
		}
	}
	return true
}

// awsInZone reports whether the AWS principal value v can only stand for
// principals of the zone's accounts, or for no one (a deleted principal's
// unique ID).
func awsInZone(v string, z *Zone) bool {
	switch {
	case isUniqueID(v):
		return true
	case isAccountID(v):
		return z.trustsAccount(v)
	case strings.HasPrefix(v, "arn:"):
		a, why := parsePrincipalARN(v, z)
		return why == "" && z.trustsAccount(a.account)
	}
	return false
}

// coversActions reports whether Deny statement s refuses every action Allow
// statement a grants. Action names compare without regard to case, with *
// and ? wildcards (IAM User Guide, reference_policies_elements_action).
func coversActions(s, a *policy.Statement) bool {
	switch {
	case a.Action != nil && s.Action != nil:
		for _, act := range a.Action.Items {
			if !matchesAny(s.Action.Items, act) {
				return false
			}
		}
		return true
	case a.Action != nil && s.NotAction != nil:
		for _, act := range a.Action.Items {
			if matchesAny(s.NotAction.Items, act) || strings.ContainsAny(act, "*?") {
				return false // a wildcard Allow action may reach what NotAction spares
			}
		}
		return true
	case a.NotAction != nil && s.Action != nil:
		// The Allow grants every action but a few: only a Deny of every
		// STS action (trust policies hold nothing else) covers it.
		return matchesAny(s.Action.Items, "sts:*")
	}
	return false
}

// matchesAny reports whether some pattern of pats matches act. An action
// that is itself a pattern is covered only by a pattern that ends in its
// only wildcard and whose literal part starts the action's: "sts:*" covers
// "sts:Assume*", but "sts:?" covers no pattern.
func matchesAny(pats []string, act string) bool {
	lit, exact := literal(opLike, act)
	for _, p := range pats {
		if exact && globMatch(p, act, true) {
			return true
		}
		if !exact && strings.HasSuffix(p, "*") && !strings.ContainsAny(p[:len(p)-1], "*?") {
			if pre := p[:len(p)-1]; len(pre) <= len(lit) && strings.EqualFold(lit[:len(pre)], pre) {
				return true
			}
		}
	}
	return false
}

// anyResource reports whether Deny statement s applies whatever the
// resource: trust policies have no Resource, and one that names something
// else than "*" might not apply to the role.
func anyResource(s *policy.Statement) bool {
	if s.NotResource != nil {
		return false
	}
	return s.Resource == nil || contains(s.Resource.Items, "*")
}

func contains(vals []string, v string) bool {
	for _, x := range vals {
		if x == v {
			return true
		}
	}
	return false
}

// denyKey is what the single-key Deny statements of a policy refuse on one
// identity key.
type denyKey struct {
	id              keyID
	claim           string
	present, absent bool   // refuses every outside value / a request without the key
	byPresent       string // the Deny that refuses the outside values
	byAbsent        string // the Deny that refuses requests without the key
}

// jointConfines reads the statement's own condition and the policy's Deny
// statements together, key by key, as IAM would: a caller gets in only if
// the Allow's condition holds and no Deny refuses it. Some identity key must
// leave no outsider in, whether it presents the key or not: each case is
// either refused by the Allow's atoms on the key, or by a Deny statement
// whose condition is only about that key (for example an Allow with
// StringEqualsIfExists aws:PrincipalOrgID and a Deny with Null
// aws:PrincipalOrgID true). It returns a description, or "".
func (c *stmtCtx) jointConfines(typ, val string, d *domain) string {
	if c.doc == nil {
		return ""
	}
	var keys [4]denyKey
	dk := keys[:0]
	for i, s := range c.doc.Statements {
		if s.Effect != policy.Deny || len(s.Condition) == 0 {
			continue
		}
		if !coversPrincipal(s, typ, val, c.z) || !coversActions(s, c.s) || !anyResource(s) {
			continue
		}
		var buf [8]atom
		as, other, ambiguous := d.atoms(s.Condition, buf[:0])
		if other || ambiguous || len(as) == 0 || len(as) > maxAtoms {
			continue
		}
		single := true
		for j := range as {
			single = single && as[j].id == as[0].id && strings.EqualFold(as[j].claim, as[0].claim)
		}
		if !single {
			continue
		}
		var g group
		d.keyGroups(as, func(h group, _ atomSet) bool { g = h; return false })
		if !g.outAll && !g.absTrue {
			continue
		}
		by := "Deny statement " + strconv.Itoa(i) + " with " + describe(as, all64(len(as)))
		k := -1
		for n := range dk {
			if dk[n].id == as[0].id && strings.EqualFold(dk[n].claim, as[0].claim) {
				k = n
			}
		}
		if k < 0 {
			dk = append(dk, denyKey{id: as[0].id, claim: as[0].claim})
			k = len(dk) - 1
		}
		if g.outAll && !dk[k].present {
			dk[k].present, dk[k].byPresent = true, by
		}
		if g.absTrue && !dk[k].absent {
			dk[k].absent, dk[k].byAbsent = true, by
		}
	}
	if len(dk) == 0 {
		return ""
	}
	var buf [8]atom
	as, _, ambiguous := d.atoms(c.s.Condition, buf[:0])
	if ambiguous {
		as = as[:0]
	}
	for _, k := range dk {
		// The Allow's atoms on this key, if any.
		g := group{}
		var on atomSet
		d.keyGroups(as, func(h group, set atomSet) bool {
			for i := range as {
				if set.has(i) {
					if as[i].id == k.id && strings.EqualFold(as[i].claim, k.claim) {
						g, on = h, set
					}
					break
				}
			}
			return on == 0
		})
		if !(g.outNone || k.present) || !(g.absFalse || k.absent) {
			continue
		}
		var parts []string
		if on != 0 {
			parts = append(parts, "the Condition "+describe(as, on))
		}
		if !g.outNone {
			parts = append(parts, k.byPresent)
		}
		if !g.absFalse && (g.outNone || k.byAbsent != k.byPresent) {
			parts = append(parts, k.byAbsent)
		}
		return strings.Join(parts, " together with ")
	}
	return ""
}
