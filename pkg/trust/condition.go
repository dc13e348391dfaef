package trust

import (
	"strings"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// How a Condition block is read.
//
// IAM evaluates a Condition block as one conjunction: every operator and
// every key in it must hold, and a key's values are OR-ed (IAM User Guide,
// reference_policies_condition-logic-multiple-context-keys-or-values). The
// engine therefore reads a block whole: it groups the block's atoms (one
// operator applied to one key) by key, and asks of each group what IAM would
// answer for a caller outside the zone, for every value such a caller may
// present and for a request that lacks the key:
//
//   - a key absent from the request makes an operator false, except that
//     negated operators (StringNotEquals, StringNotLike, ArnNotLike, …) are then
//     true, …IfExists operators are true, and Null tests presence itself
//     (reference_policies_elements_condition_operators: "If the key that you
//     specify in a policy condition is not present in the request context, the
//     values do not match and the condition is false. If the policy condition
//     requires that the key is not matched, such as StringNotLike or
//     ArnNotLike, and the right key is not present, the condition is true.
//     This logic applies to all condition operators except ...IfExists and Null
//     check");
//   - ForAllValues: is true and ForAnyValue: is false when the key is absent or
//     empty (reference_policies_condition-single-vs-multi-valued-context-keys:
//     "If there are no context keys in the request, it also returns true";
//     the same page advises a Null condition with false to keep a missing key
//     from evaluating to true); on a single-valued key each reads like the
//     plain operator otherwise;
//   - a negated operator with several values holds when the request's value
//     matches none of them (reference_policies_condition-logic-multiple-
//     context-keys-or-values, negated matching).
//
// A group confines an Allow when no outside caller can satisfy it, present or
// absent (so "Null false" on a key turns an …IfExists or ForAllValues: atom on
// the same key into a confining one). A group refuses every outsider in a
// Deny when every outside caller satisfies it, present or absent. Which
// values are "outside" depends on what is judged (a domain): AWS principals
// are judged on aws:PrincipalAccount/OrgID/OrgPaths/Arn, services on
// aws:SourceAccount/Arn/OrgID/OrgPaths, identity providers on their claims.
// Keys are compared without regard to case, operator names exactly, as IAM
// does. Where the engine cannot tell, it assumes what lets an outsider in.

// opKind is the matching an operator performs.
type opKind uint8

const (
	opOther opKind = iota // Numeric, Date, Bool, IpAddress, Binary, unknown
	opExact               // StringEquals: case-sensitive, no wildcards
	opFold                // StringEqualsIgnoreCase
	opLike                // StringLike: * and ? wildcards
	opARN                 // ArnEquals, ArnLike: per ARN field, with wildcards
	opNull                // Null
)

type setOp uint8

const (
	setNone setOp = iota
	setAny        // ForAnyValue:
	setAll        // ForAllValues:
)

// condOp is a parsed operator name.
type condOp struct {
	kind     opKind
	negated  bool
	ifExists bool
	set      setOp
}

// parseOp parses a condition operator name (case-sensitive, as IAM reads it).
func parseOp(name string) condOp {
	var op condOp
	switch {
	case strings.HasPrefix(name, "ForAnyValue:"):
		op.set, name = setAny, name[len("ForAnyValue:"):]
	case strings.HasPrefix(name, "ForAllValues:"):
		op.set, name = setAll, name[len("ForAllValues:"):]
	}
	name, op.ifExists = strings.CutSuffix(name, "IfExists")
	switch name {
	case "StringEquals":
		op.kind = opExact
	case "StringNotEquals":
		op.kind, op.negated = opExact, true
	case "StringEqualsIgnoreCase":
		op.kind = opFold
	case "StringNotEqualsIgnoreCase":
		op.kind, op.negated = opFold, true
	case "StringLike":
		op.kind = opLike
	case "StringNotLike":
		op.kind, op.negated = opLike, true
	case "ArnEquals", "ArnLike":
		op.kind = opARN
	case "ArnNotEquals", "ArnNotLike":
		op.kind, op.negated = opARN, true
	case "Null":
		if !op.ifExists && op.set == setNone {
			op.kind = opNull
		}
	}
	return op
}

// absent returns whether the operator holds when the key is absent, and
// whether that is known.
func (op condOp) absent() (holds, known bool) {
	switch {
	case op.kind == opOther:
		return false, false
	case op.kind == opNull:
		return false, false // decided by the value ("true" holds)
	case op.ifExists, op.set == setAll:
		return true, true
	case op.set == setAny:
		return false, true
	}
	return op.negated, true
}

// reach says which values of a key a pattern can match.
type reach uint8

const (
	reachIn  reach = 1 << iota // a value inside the zone (or naming the tenant)
	reachOut                   // a value outside it
	reachAll                   // every value
)

// keyID names the identity keys of a domain.
type keyID uint8

const (
	keyNone     keyID = iota
	keyAccount        // aws:PrincipalAccount, aws:SourceAccount
	keyOrgID          // aws:PrincipalOrgID, aws:SourceOrgID
	keyOrgPaths       // aws:PrincipalOrgPaths, aws:SourceOrgPaths (multivalued)
	keyARN            // aws:PrincipalArn, aws:SourceArn
	keyClaim          // a claim of an identity provider
)

// domKind is what a domain judges.
type domKind uint8

const (
	domAWS    domKind = iota // AWS principals and the wildcard
	domSource                // the account a service principal acts for
	domOIDC                  // tokens of an OIDC provider
	domPublic                // tokens of a public web identity provider
)

// domain says which condition keys identify a caller and which of their
// values are inside the zone.
type domain struct {
	kind domKind
	z    *Zone
	// name is the provider (OIDC issuer host and path, or public IdP name);
	// condition keys of its claims are name + ":" + claim.
	name string
	// issuer is the shared OIDC issuer, nil for a provider of one tenant.
	issuer *sharedIssuer
	// claims are the claims that identify the caller (domOIDC, domPublic).
	claims []string
}

// key returns the identity key k names in d, and for a claim the claim.
func (d *domain) key(k string) (keyID, string) {
	switch d.kind {
	case domAWS, domSource:
		rest, ok := cutPrefixFold(k, "aws:")
		if !ok {
			return keyNone, ""
		}
		if d.kind == domAWS {
			rest, ok = cutPrefixFold(rest, "Principal")
		} else {
			rest, ok = cutPrefixFold(rest, "Source")
		}
		if !ok {
			return keyNone, ""
		}
		switch {
		case strings.EqualFold(rest, "Account"), d.kind == domSource && strings.EqualFold(rest, "Owner"):
			// aws:SourceOwner is the older, undocumented name of
			// aws:SourceAccount (awsdocs/iam-user-guide#111: "aws:SourceAccount
			// was introduced as the preferred replacement"). If IAM does not
			// pass it, a positive operator on it is false: it then admits no
			// one, which is sound either way.
			return keyAccount, ""
		case strings.EqualFold(rest, "OrgID"):
			return keyOrgID, ""
		case strings.EqualFold(rest, "OrgPaths"):
			return keyOrgPaths, ""
		case strings.EqualFold(rest, "Arn"):
			return keyARN, ""
		}
		return keyNone, ""
	}
	if d.issuer != nil && d.issuer.globalKey != "" && strings.EqualFold(k, d.issuer.globalKey) {
		return keyClaim, k
	}
	if len(k) <= len(d.name) || k[len(d.name)] != ':' || !strings.EqualFold(k[:len(d.name)], d.name) {
		return keyNone, ""
	}
	// The claim is returned as written (a part of k, not of d, so that
	// nothing of the zone escapes with it); claims compare without regard
	// to case.
	claim := k[len(d.name)+1:]
	for _, c := range d.claims {
		if strings.EqualFold(claim, c) {
			return keyClaim, claim
		}
	}
	return keyNone, ""
}

// reach classifies one condition value of an identity key.
func (d *domain) reach(id keyID, claim string, kind opKind, v string) reach {
	if kind == opLike && v == "*" {
		return reachAll | reachIn | reachOut
	}
	z := d.z
	switch id {
	case keyAccount:
		return accountReach(z, kind, v)
	case keyOrgID:
		return orgReach(z, kind, v)
	case keyOrgPaths:
		lp, exact := literal(kind, v)
		if kind == opARN {
			return reachIn | reachOut
		}
		org, _, found := strings.Cut(lp, "/")
		switch {
		case found && z.trustsOrgFold(org, kind == opFold):
			return reachIn
		case found && isOrgID(strings.ToLower(org)) && (kind == opFold || isOrgID(org)):
			return reachOut
		case found || exact:
			return 0 // an organization path always starts with an organization ID
		}
		return reachIn | reachOut
	case keyARN:
		return arnReach(z, kind, v)
	case keyClaim:
		return d.claimReach(claim, kind, v)
	}
	return reachIn | reachOut
}

// literal returns the part of v every matching value starts with, and
// whether v is matched exactly (it has no wildcards).
func literal(kind opKind, v string) (string, bool) {
	if kind != opLike && kind != opARN {
		return v, true
	}
	if i := strings.IndexAny(v, "*?"); i >= 0 {
		return v[:i], false
	}
	return v, true
}

// accountReach classifies an account ID pattern. Account IDs are exactly 12
// digits (IAM User Guide, console-account-id), so "111122223333*" names one
// account and "9999*" only accounts outside a zone that has none starting so.
func accountReach(z *Zone, kind opKind, v string) reach {
	switch kind {
	case opExact, opFold:
		if !isAccountID(v) {
			return 0 // matches no account
		}
	case opLike:
		if lit := strings.ReplaceAll(v, "*", ""); isAccountID(lit) {
			v = lit // with 12 literal digits, every * can only match the empty string
			break
		}
		if !globCanMatchAccount(v) {
			return 0
		}
		var r reach = reachOut // a wildcard inside 12 digits leaves ≥ 10 accounts
		if globMatch(v, z.Account, false) {
			r |= reachIn
		}
		for _, a := range z.TrustedAccounts {
			if globMatch(v, a, false) {
				r |= reachIn
			}
		}
		if r&reachIn == 0 {
			return reachOut
		}
		return r
	default:
		return reachIn | reachOut
	}
	if z.trustsAccount(v) {
		return reachIn
	}
	return reachOut
}

// globCanMatchAccount reports whether a StringLike pattern can match some
// 12-digit string.
func globCanMatchAccount(p string) bool {
	n, star := 0, false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '*':
			star = true
		case c == '?' || c >= '0' && c <= '9':
			n++
		default:
			return false
		}
	}
	return n == 12 || star && n < 12
}

func orgReach(z *Zone, kind opKind, v string) reach {
	switch kind {
	case opExact:
		if !isOrgID(v) {
			return 0
		}
		if z.trustsOrg(v) {
			return reachIn
		}
		return reachOut
	case opFold:
		// Organization IDs are lower case: the only ID a case-insensitive
		// value matches is its lower-case form.
		if z.trustsOrgFold(v, true) {
			return reachIn
		}
		if isOrgID(strings.ToLower(v)) {
			return reachOut
		}
		return 0
	case opLike:
		if !strings.ContainsAny(v, "*?") {
			return orgReach(z, opExact, v)
		}
		r := reachOut
		for _, o := range z.TrustedOrgIDs {
			if globMatch(v, o, false) {
				r |= reachIn
			}
		}
		return r
	}
	return reachIn | reachOut
}

// arnReach classifies an ARN pattern by its account field. With string
// operators a wildcard may stand for colons too, and a role or user path may
// hold colons (CreateRole Path pattern, \u0021-\u007F), so only a literal
// prefix that runs through the account field fixes it; ARN operators match
// field by field (reference_policies_elements_condition_operators,
// Conditions_ARN), so a literal account field fixes it whatever the other
// fields hold.
func arnReach(z *Zone, kind opKind, v string) reach {
	unknown := reachIn | reachOut
	var part, acct string
	switch kind {
	case opExact, opFold, opLike:
		lp, _ := literal(kind, v)
		f, rest, ok := cutFields4(lp)
		if !ok || !(f[0] == "arn" || kind == opFold && strings.EqualFold(f[0], "arn")) {
			return unknown
		}
		part = f[1]
		if kind == opFold {
			part = strings.ToLower(part)
		}
		switch {
		case len(rest) > 12 && rest[12] == ':', len(rest) == 12:
			acct = rest[:12]
		case len(rest) > 12:
			return 0 // the account field is 12 digits and ends with ':'
		default:
			return unknown
		}
	case opARN:
		f, ok := splitARN(v)
		if !ok || !globMatch(f[0], "arn", false) {
			return unknown
		}
		if !globMatch(f[1], z.partition(), false) {
			return unknown
		}
		part, acct = z.partition(), f[4]
	default:
		return unknown
	}
	if part != z.partition() || !isAccountID(acct) {
		return unknown // another partition, or no literal account (an S3 bucket ARN): cannot tell
	}
	if z.trustsAccount(acct) {
		return reachIn
	}
	return reachOut
}

// cutFields4 splits off the first four colon-separated fields of s.
func cutFields4(s string) (f [4]string, rest string, ok bool) {
	rest = s
	for i := range 4 {
		if f[i], rest, ok = strings.Cut(rest, ":"); !ok {
			return f, "", false
		}
	}
	return f, rest, true
}

// claimReach classifies a value of an identity provider's claim.
func (d *domain) claimReach(claim string, kind opKind, v string) reach {
	if kind != opExact && kind != opFold && kind != opLike {
		return reachIn | reachOut
	}
	lp, exact := literal(kind, v)
	switch d.kind {
	case domPublic:
		// An application ID may belong to anyone: only a configured trusted
		// audience is inside the zone.
		in := false
		for _, a := range d.z.TrustedAudiences {
			if exact && (a == v || kind == opFold && strings.EqualFold(a, v)) || !exact && globMatch(v, a, false) {
				in = true
			}
		}
		switch {
		case in && exact:
			return reachIn
		case in:
			return reachIn | reachOut
		}
		return reachOut
	case domOIDC:
		if d.issuer != nil {
			// A value naming a tenant admits that tenant only: inside the
			// zone unless trusted tenants are configured and it is not one.
			t, ok := d.issuer.owner(claim, lp, exact, kind == opFold)
			switch {
			case !ok:
				return reachIn | reachOut
			case len(d.z.TrustedOIDCTenants) == 0 || d.z.trustsTenant(t, kind == opFold):
				return reachIn
			}
			return reachOut
		}
		// A provider of one tenant: any audience or subject it issues is the
		// owner's, so a value with a literal part pins the caller.
		if lp != "" {
			return reachIn
		}
		return reachIn | reachOut
	}
	return reachIn | reachOut
}

// atom is one operator applied to one identity key.
type atom struct {
	op     condOp
	id     keyID
	claim  string
	opName string
	key    string
	values []string
}

func (a *atom) String() string {
	return a.opName + " " + a.key + " " + strings.Join(a.values, ",")
}

// atoms collects the atoms of c on d's identity keys into buf and reports
// whether c has an atom on any other key. It also reports a block whose
// operator lists one key twice in different case: IAM compares keys without
// regard to case, and which of the two it would read is not documented, so
// such a block neither confines an Allow nor lets a Deny confine.
func (d *domain) atoms(c policy.Condition, buf []atom) (as []atom, other, ambiguous bool) {
	for _, op := range c {
		for i, k := range op.Keys {
			for _, prev := range op.Keys[:i] {
				if strings.EqualFold(prev.Key, k.Key) {
					ambiguous = true
				}
			}
			id, claim := d.key(k.Key)
			if id == keyNone {
				other = true
				continue
			}
			buf = append(buf, atom{op: parseOp(op.Operator), id: id, claim: claim, opName: op.Operator, key: k.Key, values: k.Values})
		}
	}
	return buf, other, ambiguous
}

// group is what the atoms on one key of a block allow.
type group struct {
	// outNone: no outside value satisfies every atom; outAll: every one does.
	outNone, outAll bool
	// absTrue and absFalse: the atoms surely hold / surely fail when the key
	// is absent.
	absTrue, absFalse bool
	// inNone: no value inside the zone satisfies every atom.
	inNone bool
}

// multi reports whether the key is multivalued.
func multi(id keyID, claim string) bool {
	return id == keyOrgPaths || strings.EqualFold(claim, "amr")
}

// eval reads atom a against the callers outside the zone.
func (d *domain) eval(a *atom) group {
	var g group
	holds, known := a.op.absent()
	if a.op.kind == opNull {
		if len(a.values) == 1 {
			switch a.values[0] {
			case "true":
				return group{outNone: true, inNone: true, absTrue: true}
			case "false":
				return group{outAll: true, absFalse: true}
			}
		}
		return group{}
	}
	g.absTrue, g.absFalse = known && holds, known && !holds
	if a.op.kind == opOther || len(a.values) == 0 || a.op.set == setNone && multi(a.id, a.claim) {
		return g // nothing known about present values
	}
	var r reach
	for _, v := range a.values {
		r |= d.reach(a.id, a.claim, a.op.kind, v)
	}
	noOut, all := r&reachOut == 0, r&reachAll != 0
	if a.op.negated {
		g.outAll, g.outNone = noOut, all
		g.inNone = d.coversZone(a)
	} else {
		g.outNone, g.outAll = noOut, all
		g.inNone = r&reachIn == 0
	}
	return g
}

// coversZone reports whether the values of a (a negated atom) match every
// value inside the zone, so that it admits none of them. Only keys whose
// in-zone values can be listed qualify.
func (d *domain) coversZone(a *atom) bool {
	z := d.z
	matchAny := func(s string) bool {
		for _, v := range a.values {
			if matchOp(a.op.kind, v, s) {
				return true
			}
		}
		return false
	}
	switch a.id {
	case keyAccount:
		if !matchAny(z.Account) {
			return false
		}
		for _, t := range z.TrustedAccounts {
			if !matchAny(t) {
				return false
			}
		}
		return true
	case keyOrgID, keyOrgPaths:
		if len(z.TrustedOrgIDs) == 0 {
			return false
		}
		for _, o := range z.TrustedOrgIDs {
			covered := false
			for _, v := range a.values {
				if a.id == keyOrgID && matchOp(a.op.kind, v, o) {
					covered = true
				}
				// A pattern "o-…/*" (or a shorter literal part) matches every path of o.
				if a.id == keyOrgPaths && a.op.kind == opLike && strings.HasSuffix(v, "*") &&
					!strings.ContainsAny(v[:len(v)-1], "*?") && strings.HasPrefix(o+"/", v[:len(v)-1]) {
					covered = true
				}
			}
			if !covered {
				return false
			}
		}
		return true
	}
	return false
}

// atomSet is a set of indexes into a block's atoms. A block holds at most
// maxAtoms atoms on identity keys; callers treat a larger one as unknown.
type atomSet uint64

const maxAtoms = 64

func (m atomSet) has(i int) bool { return m&(1<<uint(i)) != 0 }

func all64(n int) atomSet {
	if n >= maxAtoms {
		return ^atomSet(0)
	}
	return 1<<uint(n) - 1
}

// keyGroups folds the atoms of a block per key and calls fn for each key
// with the combined group and the atoms on it, until fn returns false.
func (d *domain) keyGroups(as []atom, fn func(g group, on atomSet) bool) {
	if len(as) > maxAtoms {
		as = as[:maxAtoms] // fewer atoms: an Allow confines less (callers refuse Denies this long)
	}
	var done atomSet
	for i := range as {
		if done.has(i) {
			continue
		}
		g := d.eval(&as[i])
		on := atomSet(1) << uint(i)
		for j := i + 1; j < len(as); j++ {
			if as[j].id != as[i].id || !strings.EqualFold(as[j].claim, as[i].claim) {
				continue
			}
			h := d.eval(&as[j])
			g.outNone = g.outNone || h.outNone
			g.outAll = g.outAll && h.outAll
			g.absTrue = g.absTrue && h.absTrue
			g.absFalse = g.absFalse || h.absFalse
			g.inNone = g.inNone || h.inNone
			on |= 1 << uint(j)
		}
		done |= on
		if !g.outNone {
			g.outNone = d.literalsInZone(as, on)
		}
		if !fn(g, on) {
			return
		}
	}
}

// literalsInZone reports whether a positive atom among on lists only
// literal values, and each of them that may lie outside the zone is refused
// by another atom on the same key: the block then admits only values inside
// the zone ({"StringEquals": [own, foreign]} with {"StringNotEquals": foreign}).
func (d *domain) literalsInZone(as []atom, on atomSet) bool {
	for i := range as {
		a := &as[i]
		if !on.has(i) || a.op.negated || a.op.kind != opExact && a.op.kind != opLike || len(a.values) == 0 || multi(a.id, a.claim) {
			continue
		}
		ok := true
		for _, v := range a.values {
			lit, exact := literal(a.op.kind, v)
			if !exact {
				ok = false
				break
			}
			if d.reach(a.id, a.claim, a.op.kind, v)&reachOut == 0 {
				continue
			}
			set := [1]string{lit}
			refused := false
			for j := range as {
				if j != i && on.has(j) && !holdsFor(&as[j], set[:]) {
					refused = true
				}
			}
			if !refused {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// describe renders the atoms in on.
func describe(as []atom, on atomSet) string {
	var b strings.Builder
	n := 0
	for i := range as {
		if !on.has(i) {
			continue
		}
		if n > 0 {
			b.WriteString(" and ")
		}
		n++
		b.WriteString(as[i].String())
	}
	return b.String()
}

// confines returns a description of the key of block c that no caller
// outside the zone can satisfy, present or absent, or "".
func (d *domain) confines(c policy.Condition) string {
	if len(c) == 0 {
		return ""
	}
	var buf [8]atom
	as, _, ambiguous := d.atoms(c, buf[:0])
	if ambiguous {
		return ""
	}
	by := ""
	d.keyGroups(as, func(g group, on atomSet) bool {
		if g.outNone && g.absFalse {
			by = describe(as, on)
			return false
		}
		return true
	})
	return by
}

// refusesAll reports whether every caller outside the zone satisfies block
// c: every atom is on an identity key, and each key's atoms hold for every
// outside value and when the key is absent. A block with any other key
// holds only under that extra condition, which an outsider may avoid.
func (d *domain) refusesAll(c policy.Condition) bool {
	var buf [8]atom
	as, other, ambiguous := d.atoms(c, buf[:0])
	if other || ambiguous || len(as) > maxAtoms {
		return false
	}
	ok := true
	d.keyGroups(as, func(g group, _ atomSet) bool {
		ok = g.outAll && g.absTrue
		return ok
	})
	return ok
}

// matchOp reports whether value s matches condition value v under kind.
func matchOp(kind opKind, v, s string) bool {
	switch kind {
	case opExact:
		return v == s
	case opFold:
		return strings.EqualFold(v, s)
	case opLike:
		return globMatch(v, s, false)
	case opARN:
		pf, ok1 := splitARN(v)
		sf, ok2 := splitARN(s)
		if !ok1 || !ok2 {
			return false
		}
		for i := range pf {
			if !globMatch(pf[i], sf[i], false) {
				return false
			}
		}
		return true
	}
	return false
}

// holdsFor reports whether atom a may hold for a request whose key holds
// exactly the values set (nil: the key is absent). Operators the engine
// does not evaluate are assumed to hold.
func holdsFor(a *atom, set []string) bool {
	if a.op.kind == opNull {
		if len(a.values) != 1 {
			return true
		}
		switch a.values[0] {
		case "true":
			return len(set) == 0
		case "false":
			return len(set) > 0
		}
		return true
	}
	if a.op.kind == opOther {
		return true
	}
	if len(set) == 0 {
		holds, _ := a.op.absent()
		return holds
	}
	match := func(s string) bool {
		m := false
		for _, v := range a.values {
			if matchOp(a.op.kind, v, s) {
				m = true
			}
		}
		return m != a.op.negated
	}
	if a.op.set == setAll {
		for _, s := range set {
			if !match(s) {
				return false
			}
		}
		return true
	}
	for _, s := range set {
		if match(s) {
			return true
		}
	}
	return false
}

// globMatch reports whether s matches pattern p, where * matches any run of
// characters and ? one character (StringLike, ArnLike and IAM action
// patterns); fold compares without regard to case.
func globMatch(p, s string, fold bool) bool {
	px, sx := 0, 0
	nextP, nextS := -1, -1
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			switch c := p[px]; c {
			case '*':
				nextP, nextS = px, sx+1
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx++
					continue
				}
			default:
				if sx < len(s) && (c == s[sx] || fold && lower(c) == lower(s[sx])) {
					px++
					sx++
					continue
				}
			}
		}
		if nextS > 0 && nextS <= len(s) {
			px, sx = nextP, nextS
			continue
		}
		return false
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}
