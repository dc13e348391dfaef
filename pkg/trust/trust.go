// Package trust decides which principals a role's trust policy may admit and
// produces the restricted policy that admits only those.
//
// The rules are DESIGN.md §4: a trust policy may admit the own account,
// trusted accounts and organizations, AWS services, and identity providers of
// the zone that are properly constrained; every other principal is removed.
// The engine only ever removes: the restricted policy never admits a
// principal the input did not admit, Deny statements are kept byte for byte,
// and when the engine cannot tell whether a principal is trusted, it is not.
package trust

import (
	"fmt"
	"slices"
	"strings"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// Zone is the set of principals a role may trust.
type Zone struct {
	// Account is the role's own account ID.
	Account string
	// TrustedAccounts are other account IDs the role may trust.
	TrustedAccounts []string
	// TrustedOrgIDs are AWS Organizations IDs (o-…) whose accounts may be
	// trusted through a restricting condition such as aws:PrincipalOrgID.
	TrustedOrgIDs []string
	// Partition is the role's partition; "" means "aws".
	Partition string
	// TrustedAudiences are the application IDs (audiences) of public web
	// identity providers (Cognito identity pools, Google, Facebook, Login
	// with Amazon) that may stay: such a provider is kept only when every
	// audience it may receive is listed here, because an application ID may
	// belong to anyone.
	TrustedAudiences []string
	// TrustedOIDCTenants are the owners of shared OIDC issuers (GitHub,
	// GitLab.com, HCP Terraform, …) the organization trusts, as
	// KIND:IDENTIFIER entries (github:acme-corp, github-id:123456,
	// github-repo-id:987654, github-enterprise-id:42, gitlab:acme-group,
	// terraform:acme; see ValidateTenant and ISSUERS.md). When set, a
	// statement of a shared issuer is inside the zone only if the tenant its
	// condition names is listed; when empty, any named tenant is kept and
	// flagged as unchecked.
	TrustedOIDCTenants []string
}

// isOrgID reports whether s is an AWS Organizations ID: o- and 10 to 32
// lower-case letters or digits.
func isOrgID(s string) bool {
	return len(s) >= 12 && len(s) <= 34 && s[:2] == "o-" && digitsOrLetters(s[2:], 'a')
}

// digitsOrLetters reports whether every byte of s is a digit or a letter of
// one case: a is 'a' for lower case, 'A' for upper case.
func digitsOrLetters(s string, a byte) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= a && c <= a+25 || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isPartition reports whether s looks like an AWS partition: aws, aws-cn,
// aws-us-gov, aws-iso-b, …
func isPartition(s string) bool {
	rest, ok := strings.CutPrefix(s, "aws")
	if !ok || (rest != "" && rest[0] != '-') {
		return false
	}
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case c == '-':
			if i+1 == len(rest) || rest[i+1] == '-' {
				return false
			}
		case c < 'a' || c > 'z':
			return false
		}
	}
	return true
}

// Validate reports the first malformed field of z.
func (z Zone) Validate() error {
	if !policy.IsAccountID(z.Account) {
		return fmt.Errorf("trust: zone account %q is not a 12-digit account ID", z.Account)
	}
	for _, a := range z.TrustedAccounts {
		if !policy.IsAccountID(a) {
			return fmt.Errorf("trust: trusted account %q is not a 12-digit account ID", a)
		}
	}
	for _, o := range z.TrustedOrgIDs {
		if !isOrgID(o) {
			return fmt.Errorf("trust: trusted organization %q is not an organization ID (o-…)", o)
		}
	}
	for _, a := range z.TrustedAudiences {
		if a == "" || strings.ContainsAny(a, "*?") {
			return fmt.Errorf("trust: trusted audience %q is empty or holds a wildcard", a)
		}
	}
	for _, t := range z.TrustedOIDCTenants {
		if err := ValidateTenant(t); err != nil {
			return fmt.Errorf("trust: trusted OIDC tenant: %w", err)
		}
	}
	if z.Partition != "" && !isPartition(z.Partition) {
		return fmt.Errorf("trust: partition %q is not an AWS partition", z.Partition)
	}
	return nil
}

func (z *Zone) partition() string {
	if z.Partition == "" {
		return "aws"
	}
	return z.Partition
}

// accountKind says whether id is the own account, a trusted one, or foreign.
func (z *Zone) accountKind(id string) Kind {
	switch {
	case id == z.Account:
		return KindSameAccount
	case slices.Contains(z.TrustedAccounts, id):
		return KindTrustedAccount
	}
	return KindForeignAccount
}

func (z *Zone) trustsAccount(id string) bool { return z.accountKind(id) != KindForeignAccount }

func (z *Zone) trustsOrg(id string) bool { return slices.Contains(z.TrustedOrgIDs, id) }

// trustsOrgFold is trustsOrg, without regard to case when fold is set.
func (z *Zone) trustsOrgFold(id string, fold bool) bool {
	if !fold {
		return z.trustsOrg(id)
	}
	for _, o := range z.TrustedOrgIDs {
		if strings.EqualFold(o, id) {
			return true
		}
	}
	return false
}

// Kind classifies a principal value.
type Kind string

// The kinds of principal a trust policy can name.
const (
	KindWildcard       Kind = "wildcard"        // "*": anyone
	KindSameAccount    Kind = "same-account"    // the role's own account or a principal in it
	KindTrustedAccount Kind = "trusted-account" // a configured trusted account or a principal in it
	KindForeignAccount Kind = "foreign-account" // any other account or a principal in it
	KindService        Kind = "service"         // an AWS service principal
	KindFederated      Kind = "federated"       // a SAML/OIDC provider or public web identity
	KindDangling       Kind = "dangling"        // a bare unique ID left by a deleted principal
	KindInvalid        Kind = "invalid"         // not a valid role principal, or not understood
	KindNotPrincipal   Kind = "not-principal"   // NotPrincipal in an Allow: everyone except…
)

// Principal is one principal value of a trust policy with its verdict.
type Principal struct {
	// Statement is the index of the statement in the input document.
	Statement int    `json:"statement"`
	Sid       string `json:"sid,omitempty"`
	Effect    string `json:"effect"`
	// Type is the principal type: "AWS", "Service", "Federated",
	// "CanonicalUser", "*" for the bare wildcard, or whatever the policy wrote.
	Type    string `json:"type"`
	Value   string `json:"value"`
	Kind    Kind   `json:"kind"`
	Account string `json:"account,omitempty"`
	// Trusted says whether the principal stays in the restricted policy.
	Trusted bool   `json:"trusted"`
	Reason  string `json:"reason"`
	// Risk, when set, is why a kept principal still deserves a reviewer's
	// look (for example a service principal without a source condition).
	Risk string `json:"risk,omitempty"`

	// unwritable marks a kept principal that IAM would refuse to save
	// (see checkWritable).
	unwritable bool
}

// String returns the principal as "Type:Value", the form findings use.
func (p Principal) String() string {
	if p.Type == "*" {
		return "*"
	}
	return p.Type + ":" + p.Value
}

// Finding is something a reviewer must see: a principal removed, or a
// principal kept that carries a risk. It is the one finding type of the
// guardrail's output: `guardrail check` prints this package's findings, and
// the decision records (pkg/decision) hold them with the engine's own
// findings about a policy (the lockdown, the session revocation), in the
// same JSON shape.
type Finding struct {
	// Control names the control that found it: ControlTrust for every
	// finding of this package.
	Control string `json:"control"`
	// Principal is the principal concerned, as "Type:Value"; "" for a
	// finding about a policy.
	Principal string `json:"principal,omitempty"`
	// Policy is the policy concerned (a managed policy ARN or an inline
	// policy name) when the finding is about a policy rather than a
	// principal; never set by this package.
	Policy string `json:"policy,omitempty"`
	// Kind is the principal's kind; "" for a finding about a policy.
	Kind Kind `json:"kind,omitempty"`
	// Statement is the index of the principal's statement in the input
	// document; nil for a finding about a policy.
	Statement *int   `json:"statement,omitempty"`
	Reason    string `json:"reason"`
	// Removed is true when the restricted policy no longer holds the
	// principal (in check mode: would no longer hold it).
	Removed bool `json:"removed"`
}

// statementIndexes back the Statement field of findings, so that a finding
// costs no allocation of its own: a trust policy fits IAM's 4,096-character
// quota, so it has far fewer statements than this. The values are shared
// and never written through a Finding.
var statementIndexes = func() (a [256]int) {
	for i := range a {
		a[i] = i
	}
	return a
}()

// statementIndex returns a Finding's Statement for statement i.
func statementIndex(i int) *int {
	if i >= 0 && i < len(statementIndexes) {
		return &statementIndexes[i]
	}
	p := new(int) // only here: &i would move every i to the heap
	*p = i
	return p
}

// Result is what Analyze and Restrict report.
type Result struct {
	// Principals lists every principal value of the input with its verdict.
	Principals []Principal
	// Findings lists removals and flagged risks.
	Findings []Finding
	// Policy is the restricted document (Restrict only; nil from Analyze).
	// It is the input document itself when nothing was removed.
	Policy *policy.Document
	// Changed is true when the restricted policy differs from the input.
	Changed bool
	// RemovedExternal is true when a removed principal could have issued
	// sessions for someone outside the zone (a wildcard, foreign account,
	// federated identity, service acting for a foreign account, a NotPrincipal
	// statement, or a value the engine does not understand and so cannot rule
	// out), so older sessions should be revoked. Only a dangling unique ID is
	// known to have admitted no one.
	RemovedExternal bool
}

// Untrusted returns the principals the restricted policy does not keep.
func (r Result) Untrusted() []Principal {
	var out []Principal
	for _, p := range r.Principals {
		if !p.Trusted {
			out = append(out, p)
		}
	}
	return out
}

// ControlTrust is the Control value of the findings this package produces.
const ControlTrust = "trust"

// FallbackSid is the Sid of the statement written when no trusted principal
// remains: IAM refuses a trust policy without statements, and a policy that
// denies everyone states the outcome plainly.
const FallbackSid = "GuardrailNoTrustedPrincipals"

// fallback denies every way of assuming the role. IAM validates the actions
// of a trust policy ("AssumeRole policy may only specify STS AssumeRole
// actions"), so it names the three assume actions the IAM User Guide lists
// for role trust policies (id_roles_create_for-user.html,
// id_roles_create_for-idp_saml.html, id_roles_create_for-idp_oidc.html)
// rather than a wildcard such as "sts:*", which IAM implementations other
// than the local stand-in refuse.
var fallback = mustStatement(`{"Sid":"` + FallbackSid + `","Effect":"Deny","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:AssumeRoleWithSAML","sts:AssumeRoleWithWebIdentity"]}`)

func mustStatement(s string) *policy.Statement {
	st, err := policy.ParseStatement([]byte(s))
	if err != nil {
		panic("trust: bad built-in statement: " + err.Error()) // a programming error, caught by every test
	}
	return st
}

// Analyze reports every principal of doc with its verdict and the findings,
// without building the restricted policy.
func Analyze(doc *policy.Document, z Zone) (Result, error) {
	return run(doc, z, false)
}

// Restrict reports like Analyze and also returns the restricted policy:
// untrusted values are removed from each principal type, a type left empty is
// dropped, a statement left without a principal is dropped, and when no
// statement remains a single deny-all statement (FallbackSid) is written.
// Everything else is kept exactly as it was.
func Restrict(doc *policy.Document, z Zone) (Result, error) {
	return run(doc, z, true)
}

func run(doc *policy.Document, z Zone, rewrite bool) (Result, error) {
	if doc == nil {
		return Result{}, fmt.Errorf("trust: nil policy document")
	}
	if err := z.Validate(); err != nil {
		return Result{}, err
	}
	res := judgeAll(doc, &z, rewrite, false)
	if res.Changed {
		// The policy must be written: judge again without what IAM would
		// refuse to save, if anything kept is such.
		for i := range res.Principals {
			if res.Principals[i].unwritable {
				res = judgeAll(doc, &z, rewrite, true)
				break
			}
		}
	}
	return res, nil
}

// judgeAll judges every statement of doc and, with rewrite, builds the
// restricted policy; strict removes what IAM would refuse to save.
func judgeAll(doc *policy.Document, z *Zone, rewrite, strict bool) Result {
	n := 0
	for _, s := range doc.Statements {
		n += s.Principal.Len() + s.NotPrincipal.Len()
	}
	res := Result{Principals: make([]Principal, 0, n)}
	var kept []*policy.Statement
	if rewrite {
		kept = make([]*policy.Statement, 0, len(doc.Statements))
	}
	for i, s := range doc.Statements {
		out := analyzeStatement(&res, doc, i, s, z, rewrite, strict)
		if rewrite && out != nil {
			kept = append(kept, out)
		}
	}
	if !rewrite {
		return res
	}
	if !res.Changed {
		res.Policy = doc
		return res
	}
	kept = dropDanglingDenies(&res, kept)
	if len(kept) == 0 {
		kept = append(kept, fallback)
	}
	res.Policy = doc.WithStatements(kept)
	return res
}

// dropDanglingDenies removes bare unique IDs from the Principal and
// NotPrincipal of Deny statements in a policy that is about to be written.
// IAM refuses to save a trust policy naming a unique ID whose principal was
// deleted ("Invalid principal in policy"), so leaving one in a Deny would
// make every repair of the role fail. Such an ID matches no principal: in a
// Principal it denies no one, so removing it changes nothing, and a Deny left
// without principals is dropped; in a NotPrincipal it excepts no one from
// the deny, so removing it changes nothing either, and a NotPrincipal left
// empty denied everyone, which the same statement with "Principal":
// {"AWS": "*"} says in a form IAM accepts (IAM User Guide,
// reference_policies_elements_principal: "*" and {"AWS": "*"} both name
// every principal). Deny statements are otherwise kept byte for byte.
func dropDanglingDenies(res *Result, stmts []*policy.Statement) []*policy.Statement {
	out := stmts[:0]
	for _, s := range stmts {
		if s.Effect != policy.Deny {
			out = append(out, s)
			continue
		}
		dangling := 0
		drop := func(typ, val string) bool {
			if typ == "AWS" && isUniqueID(val) {
				dangling++
				return false
			}
			return true
		}
		var p, np *policy.Principal
		if s.Principal != nil && !s.Principal.Wildcard {
			p = s.Principal.Filter(drop)
		}
		if s.NotPrincipal != nil && !s.NotPrincipal.Wildcard {
			np = s.NotPrincipal.Filter(drop)
		}
		if dangling == 0 {
			out = append(out, s)
			continue
		}
		for i := range res.Principals {
			v := &res.Principals[i]
			if v.Effect == string(policy.Deny) && (v.Type == "AWS" || v.Type == "NotPrincipal.AWS") && v.Kind == KindDangling && v.Trusted {
				v.Trusted = false
				v.Reason = "bare unique ID in a Deny statement: it matches no one, and IAM refuses to save a policy that names it"
				res.Findings = append(res.Findings, Finding{Control: ControlTrust, Principal: v.String(), Kind: KindDangling, Statement: statementIndex(v.Statement), Reason: v.Reason, Removed: true})
			}
		}
		switch {
		case s.NotPrincipal != nil && np == nil:
			out = append(out, s.WithNotPrincipal(nil).WithPrincipal(everyone))
		case s.NotPrincipal != nil:
			out = append(out, s.WithNotPrincipal(np))
		case p != nil:
			out = append(out, s.WithPrincipal(p))
		}
	}
	return out
}

// everyone is {"AWS": "*"}.
var everyone = &policy.Principal{Types: []policy.PrincipalType{{Name: "AWS", Values: []string{"*"}}}}

// analyzeStatement records the verdicts of one statement's principals and
// returns the statement to keep (s itself, a copy with fewer principals, or
// nil to drop it).
func analyzeStatement(res *Result, doc *policy.Document, idx int, s *policy.Statement, z *Zone, rewrite, strict bool) *policy.Statement {
	base := Principal{Statement: idx, Sid: s.Sid, Effect: string(s.Effect)}
	if s.Effect != policy.Allow {
		// A Deny never grants access: keep it, but list what it names.
		c := stmtCtx{s: s, z: z}
		for _, el := range []struct {
			prefix string
			p      *policy.Principal
		}{{"", s.Principal}, {"NotPrincipal.", s.NotPrincipal}} {
			eachValue(el.p, func(typ, val string) {
				v := res.next(base, typ, val)
				judge(v, &c)
				v.Type, v.Trusted, v.Risk = el.prefix+typ, true, ""
				v.Reason = "kept: a Deny statement grants nothing"
			})
		}
		return s
	}
	if s.NotPrincipal != nil {
		// IAM does not support NotPrincipal with Allow in trust policies; where
		// an older document has it, it admits every principal but the listed ones.
		eachValue(s.NotPrincipal, func(typ, val string) {
			v := res.next(base, "NotPrincipal."+typ, val)
			v.Kind = KindNotPrincipal
			v.Reason = "NotPrincipal in an Allow statement admits every principal except those listed; statement removed"
			res.record(v)
		})
		res.Changed = true
		res.RemovedExternal = true
		return nil
	}
	if s.Principal == nil {
		return s // admits no one
	}
	c := stmtCtx{doc: doc, s: s, z: z, strict: strict}
	first := len(res.Principals)
	removed := 0
	eachValue(s.Principal, func(typ, val string) {
		v := res.next(base, typ, val)
		judge(v, &c)
		res.record(v)
		if !v.Trusted {
			removed++
		}
	})
	if removed == 0 {
		return s
	}
	res.Changed = true
	if !rewrite {
		return nil
	}
	// Filter visits the values in the order eachValue did.
	next := first
	kept := s.Principal.Filter(func(string, string) bool {
		next++
		return res.Principals[next-1].Trusted
	})
	if kept == nil {
		return nil
	}
	return s.WithPrincipal(kept)
}

// next appends a principal record for typ and val and returns it to be filled.
func (r *Result) next(base Principal, typ, val string) *Principal {
	r.Principals = append(r.Principals, base)
	p := &r.Principals[len(r.Principals)-1]
	p.Type, p.Value = typ, val
	return p
}

// record adds the finding a filled principal record implies.
func (r *Result) record(p *Principal) {
	if r.Findings == nil && (!p.Trusted || p.Risk != "") {
		r.Findings = make([]Finding, 0, cap(r.Principals)) // at most one per principal
	}
	switch {
	case !p.Trusted:
		r.Findings = append(r.Findings, Finding{Control: ControlTrust, Principal: p.String(), Kind: p.Kind, Statement: statementIndex(p.Statement), Reason: p.Reason, Removed: true})
		if p.Kind != KindDangling {
			r.RemovedExternal = true
		}
	case p.Risk != "":
		r.Findings = append(r.Findings, Finding{Control: ControlTrust, Principal: p.String(), Kind: p.Kind, Statement: statementIndex(p.Statement), Reason: p.Risk})
	}
}

func eachValue(p *policy.Principal, fn func(typ, val string)) {
	if p == nil {
		return
	}
	if p.Wildcard {
		fn("*", "*")
		return
	}
	for _, t := range p.Types {
		for _, v := range t.Values {
			fn(t.Name, v)
		}
	}
}
