package trust

import (
	"fmt"
	"slices"
	"strings"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// isUniqueID reports whether v is a role (AROA…) or user (AIDA…) unique ID.
// IAM stores a principal by this ID and shows it bare once the principal is
// deleted; recreating a same-named principal does not restore the trust (IAM
// User Guide, id_roles_create_policy-examples), so a bare ID grants nothing.
func isUniqueID(v string) bool {
	if len(v) < 16 || (v[:4] != "AROA" && v[:4] != "AIDA") {
		return false
	}
	for i := 4; i < len(v); i++ {
		if c := v[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isIAMName reports whether v is an IAM name, or a path and name: letters,
// digits and +=,.@_- in non-empty segments separated by '/'.
func isIAMName(v string) bool {
	seg := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("+=,.@_-", c) >= 0:
			seg++
		case c == '/' && seg > 0:
			seg = 0
		default:
			return false
		}
	}
	return seg > 0
}

// isServiceName reports whether v is an AWS service principal: a DNS name
// under amazonaws.com (amazonaws.com.cn in the China partitions), compared
// without regard to case as DNS names are.
func isServiceName(v string) bool {
	host, ok := cutSuffixFold(v, ".amazonaws.com")
	if !ok {
		if host, ok = cutSuffixFold(v, ".amazonaws.com.cn"); !ok {
			return false
		}
	}
	for rest, more := host, true; more; {
		var label string
		label, rest, more = strings.Cut(rest, ".")
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i] | 0x20; !(c >= 'a' && c <= 'z' || label[i] >= '0' && label[i] <= '9' || label[i] == '-') {
				return false
			}
		}
	}
	return true
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if len(s) > len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

// isPathAndName reports whether v is the part of a role or user ARN after
// "role/" or "user/": an optional path, then a name. CreateRole and
// CreateUser allow any character from \u0021 to \u007F in a path (':' and
// '*' included: a path is literal text, never a pattern) and letters,
// digits and +=,.@_- in a name (IAM API Reference, CreateRole, Path and
// RoleName patterns).
func isPathAndName(v string) bool {
	i := strings.LastIndexByte(v, '/')
	name := v[i+1:]
	if name == "" || strings.IndexByte(name, '/') >= 0 || !isIAMName(name) {
		return false
	}
	for j := 0; j <= i; j++ {
		if c := v[j]; c < 0x21 || c > 0x7f {
			return false
		}
	}
	return true
}

// stmtCtx is the statement being judged and the policy it is in: an Allow
// is judged together with the policy's Deny statements.
type stmtCtx struct {
	doc  *policy.Document
	s    *policy.Statement
	z    *Zone
	done bool
	// strict is set when the policy must be written: what IAM would refuse
	// to save is then removed (see checkWritable).
	strict bool
	// awsBy caches what confines the statement's AWS principals.
	awsBy string
	// awsDeny is true when awsBy names a Deny statement.
	awsDeny bool
}

// confinedAWS names what confines the statement's AWS principals (and the
// wildcard) to the zone: a condition of the statement, or a Deny statement
// of the policy. It returns "" when nothing does.
func (c *stmtCtx) confinedAWS() (string, bool) {
	if !c.done {
		c.done = true
		d := domain{kind: domAWS, z: c.z} // local: a domain stored in *c would move the zone to the heap
		if by := d.confines(c.s.Condition); by != "" {
			c.awsBy = "the Condition " + by
		} else if by := c.denyOrJoint("*", "*", &d); by != "" {
			c.awsBy, c.awsDeny = by, true
		}
	}
	return c.awsBy, c.awsDeny
}

// judge gives the verdict on the principal value p.Type/p.Value, in place:
// records are large, and a policy has many.
func judge(p *Principal, c *stmtCtx) {
	switch p.Type {
	case "*":
		p.Kind = KindWildcard
		confinedOrNot(p, c, "\"Principal\": \"*\" admits every principal")
		return
	case "AWS":
		judgeAWS(p, c)
		return
	case "Service":
		judgeService(p, c)
		return
	case "Federated":
		judgeFederated(p, c)
		return
	case "CanonicalUser":
		p.Kind, p.Reason = KindInvalid, "CanonicalUser is an S3 ACL grantee, not a valid principal in a role trust policy"
	default:
		p.Kind, p.Reason = KindInvalid, fmt.Sprintf("unknown principal type %q", p.Type)
	}
}

// confinedOrNot trusts p only when the statement's condition or a Deny
// statement confines principals to the zone.
func confinedOrNot(p *Principal, c *stmtCtx, why string) {
	by, deny := c.confinedAWS()
	switch {
	case by == "":
		p.Reason = why + "; neither a Condition nor a Deny statement confines it to trusted accounts or organizations"
	case deny:
		p.Trusted = true
		p.Reason = why + ", but " + by + " refuses every principal outside trusted accounts and organizations"
		p.Risk = "kept only because " + by + " refuses every principal outside trusted accounts and organizations; changing that statement opens the role"
	default:
		p.Trusted = true
		p.Reason = why + ", but " + by + " confines it to trusted accounts or organizations"
	}
}

func judgeAWS(p *Principal, c *stmtCtx) {
	v, z := p.Value, c.z
	switch {
	case v == "*":
		p.Kind = KindWildcard
		confinedOrNot(p, c, "\"AWS\": \"*\" admits every AWS principal")
		return
	case isAccountID(v):
		p.Account = v
	case strings.HasPrefix(v, "arn:"):
		a, why := parsePrincipalARN(v, z)
		if why != "" {
			p.Kind, p.Reason = KindInvalid, why
			return
		}
		p.Account = a.account
	case isUniqueID(v):
		p.Kind = KindDangling
		p.Reason = "bare unique ID: IAM shows this when the principal it named was deleted; it grants nothing"
		return
	default:
		p.Kind, p.Reason = KindInvalid, "not an account ID, a principal ARN or \"*\""
		return
	}
	p.Kind = z.accountKind(p.Account)
	switch p.Kind {
	case KindSameAccount:
		p.Trusted, p.Reason = true, "principal of this account"
	case KindTrustedAccount:
		p.Trusted, p.Reason = true, "principal of a trusted account"
	default:
		confinedOrNot(p, c, "account "+p.Account+" is neither this account nor a trusted one")
	}
}

// splitARN splits an ARN into its six colon-separated fields (the last one,
// the resource, may hold more colons) without allocating.
func splitARN(v string) (f [6]string, ok bool) {
	rest := v
	for i := range 5 {
		if f[i], rest, ok = strings.Cut(rest, ":"); !ok {
			return f, false
		}
	}
	f[5] = rest
	return f, f[0] == "arn"
}

type principalARN struct {
	partition, service, account, resource string
}

// parsePrincipalARN reads an IAM or STS principal ARN and returns why it is
// not a valid principal of the zone's partition, or "".
func parsePrincipalARN(v string, z *Zone) (principalARN, string) {
	f, ok := splitARN(v)
	if !ok {
		return principalARN{}, "malformed ARN"
	}
	a := principalARN{partition: f[1], service: f[2], account: f[4], resource: f[5]}
	switch {
	case f[3] != "":
		return a, "malformed principal ARN: IAM and STS ARNs have no region"
	case !isAccountID(a.account):
		return a, "malformed principal ARN: the account field is not a 12-digit account ID"
	case a.partition != z.partition():
		return a, fmt.Sprintf("principal ARN in partition %q, not the role's partition %q", a.partition, z.partition())
	}
	kind, name, _ := strings.Cut(a.resource, "/")
	ok = false
	switch a.service {
	case "iam":
		switch kind {
		case "root":
			ok = a.resource == "root"
		case "role", "user":
			ok = isPathAndName(name)
		}
	case "sts":
		switch kind {
		case "assumed-role":
			role, session, found := strings.Cut(name, "/")
			ok = found && isIAMName(role) && !strings.Contains(role, "/") && isIAMName(session) && !strings.Contains(session, "/")
		case "federated-user":
			ok = isIAMName(name) && !strings.Contains(name, "/")
		}
	}
	if !ok {
		return a, "malformed principal ARN: not an account root, role, user, assumed-role or federated-user (wildcards are not allowed here)"
	}
	return a, ""
}

// judgeService keeps an AWS service principal unless its source conditions
// (the keys that say on whose behalf the service acts: aws:SourceAccount,
// aws:SourceArn, aws:SourceOrgID, aws:SourceOrgPaths; IAM User Guide,
// confused-deputy) admit a source outside the zone that they name, or admit
// no source inside it at all.
func judgeService(p *Principal, c *stmtCtx) {
	p.Kind = KindService
	if !isServiceName(p.Value) {
		p.Kind, p.Reason = KindInvalid, "not an AWS service principal name (…amazonaws.com)"
		return
	}
	d := domain{kind: domSource, z: c.z}
	var buf [8]atom
	as, _, _ := d.atoms(c.s.Condition, buf[:0])
	if foreign := foreignSource(&d, as); foreign != "" {
		p.Reason = "the service acts for a source outside the zone: " + foreign
		return
	}
	p.Trusted = true
	if by := d.confines(c.s.Condition); by != "" {
		p.Reason = "AWS service principal, confined by " + by
		return
	}
	if by := c.denyOrJoint(p.Type, p.Value, &d); by != "" {
		p.Reason = "AWS service principal; " + by + " refuses every source outside the zone"
		return
	}
	p.Reason = "AWS service principal"
	if len(as) == 0 {
		p.Risk = "no aws:SourceAccount, aws:SourceArn, aws:SourceOrgID or aws:SourceOrgPaths condition confines the service to this account (confused-deputy risk)"
		return
	}
	p.Risk = "the source condition " + describe(as, all64(len(as))) + " does not confine the service to trusted accounts or organizations (a wildcard, an IfExists or negated form, or a value of unknown account); confused-deputy risk"
}

// foreignSource describes the source condition that makes a service act for
// a source outside the zone, or returns "". A key's atoms are read whole:
// a foreign value a positive atom names counts unless another atom on the
// same key excludes it; and atoms that together admit no source inside the
// zone but some outside it leave the service acting only for outsiders.
func foreignSource(d *domain, as []atom) string {
	for i := range as {
		a := &as[i]
		// A plain operator on a multivalued key (aws:SourceOrgPaths) is read
		// here too: whatever IAM makes of it, a value that can only match
		// sources outside the zone admits none inside it.
		if a.op.negated || a.op.kind == opNull || a.op.kind == opOther {
			continue
		}
		for _, v := range a.values {
			if d.reach(a.id, a.claim, a.op.kind, v) != reachOut {
				continue
			}
			if lit, exact := literal(a.op.kind, v); exact && a.op.kind != opFold && excluded(as, i, lit) {
				continue
			}
			return a.opName + " " + a.key + " " + v
		}
	}
	by := ""
	d.keyGroups(as, func(g group, on atomSet) bool {
		if g.inNone && !g.outNone {
			by = describe(as, on) + " admits no source inside the zone"
			return false
		}
		return true
	})
	return by
}

// excluded reports whether another atom on the key of as[i] refuses value v.
func excluded(as []atom, i int, v string) bool {
	set := [1]string{v}
	for j := range as {
		if j != i && as[j].id == as[i].id && !holdsFor(&as[j], set[:]) {
			return true
		}
	}
	return false
}

// judgeFederated judges an identity provider: SAML and OIDC providers by
// their account and conditions, public web identity providers by their
// audience.
func judgeFederated(p *Principal, c *stmtCtx) {
	p.Kind = KindFederated
	v, z := p.Value, c.z
	if name, claims, ok := publicIdP(v); ok {
		judgePublicAs(p, c, name, claims, name)
		return
	}
	if !strings.HasPrefix(v, "arn:") {
		p.Kind, p.Reason = KindInvalid, "not an identity provider ARN or a known web identity provider"
		return
	}
	f, ok := splitARN(v)
	if !ok || f[2] != "iam" || f[3] != "" || !isAccountID(f[4]) {
		p.Kind, p.Reason = KindInvalid, "malformed identity provider ARN"
		return
	}
	if f[1] != z.partition() {
		p.Kind, p.Reason = KindInvalid, fmt.Sprintf("identity provider in partition %q, not the role's partition %q", f[1], z.partition())
		return
	}
	p.Account = f[4]
	kind, name, _ := strings.Cut(f[5], "/")
	if name == "" || strings.ContainsAny(name, "*?") || (kind != "saml-provider" && kind != "oidc-provider") {
		p.Kind, p.Reason = KindInvalid, "malformed identity provider ARN: expected saml-provider/NAME or oidc-provider/HOST"
		return
	}
	if !z.trustsAccount(p.Account) {
		p.Reason = "identity provider in account " + p.Account + ", which is neither this account nor a trusted one"
		return
	}
	if kind == "saml-provider" {
		p.Trusted, p.Reason = true, "SAML provider of "+accountWord(z, p.Account)
		return
	}
	if pub, claims, ok := publicIdP(name); ok {
		judgePublicAs(p, c, pub, claims, name)
		return
	}
	d := domain{kind: domOIDC, z: z, name: name, issuer: lookupIssuer(name), claims: ownClaims}
	if d.issuer != nil {
		d.claims = d.issuer.claims
	}
	if by := d.confines(c.s.Condition); by != "" {
		p.Trusted, p.Reason = true, "OIDC provider of "+accountWord(z, p.Account)+", confined by "+by
		c.tenantVerdict(p, &d)
		c.checkWritable(p, d.issuer, name)
		return
	}
	if by := c.denyOrJoint(p.Type, p.Value, &d); by != "" {
		p.Trusted, p.Reason = true, "OIDC provider of "+accountWord(z, p.Account)+", confined by "+by
		p.Risk = "kept only because " + by + " refuses every token outside the tenant; changing that statement opens the role"
		c.tenantVerdict(p, &d)
		c.checkWritable(p, d.issuer, name)
		return
	}
	need := "a StringEquals or StringLike condition on " + name + ":aud or " + name + ":sub"
	si := d.issuer
	if si == nil {
		p.Reason = "OIDC provider without " + need + " admits every identity the provider issues tokens for"
		return
	}
	if untrusted := c.untrustedTenants(&d); untrusted != "" {
		p.Reason = "OIDC provider of the shared issuer " + si.host + " confined to " + untrusted +
			", which is not among the trusted tenants (GUARDRAIL_TRUSTED_OIDC_TENANTS: " + strings.Join(z.TrustedOIDCTenants, ",") + ")"
		return
	}
	p.Reason = "OIDC provider without a condition that names the tenant (" + si.describeForms(name) + ") — " + si.host +
		" is shared by every customer — admits every identity the provider issues tokens for" + c.unevaluatedKeys(&d)
}

// tenantVerdict completes the verdict on a kept provider of a shared
// issuer: the reason names the tenant and the form it was recognised in
// (GitHub's immutable subject among them), and when no trusted tenants are
// configured the record carries a finding that the tenant is unchecked.
func (c *stmtCtx) tenantVerdict(p *Principal, d *domain) {
	if d.issuer == nil {
		return
	}
	ts := c.tenants(d)
	var names []string
	for _, t := range ts {
		names = append(names, t.describe())
	}
	if len(names) > 0 {
		p.Reason += "; tenant " + strings.Join(names, "; ")
	}
	if len(c.z.TrustedOIDCTenants) > 0 {
		p.Reason += " (a trusted tenant)"
		return
	}
	risk := tenantUnchecked + "GUARDRAIL_TRUSTED_OIDC_TENANTS is not set, so a statement naming any owner of " + d.issuer.host + " is kept"
	if p.Risk != "" {
		risk = p.Risk + "; " + risk
	}
	p.Risk = risk
}

// tenantUnchecked starts the risk of a kept provider of a shared issuer
// when no trusted tenants are configured.
const tenantUnchecked = "the tenant is unchecked: "

// tenants returns the tenants that the string conditions on d's claims
// name, in the statement and in the policy's Deny statements, each once.
func (c *stmtCtx) tenants(d *domain) []tenantRef {
	var out []tenantRef
	scan := func(cond policy.Condition) {
		var buf [8]atom
		as, _, _ := d.atoms(cond, buf[:0])
		for i := range as {
			a := &as[i]
			if a.id != keyClaim || a.op.kind != opExact && a.op.kind != opFold && a.op.kind != opLike {
				continue
			}
			for _, v := range a.values {
				lp, exact := literal(a.op.kind, v)
				t, ok := d.issuer.owner(a.claim, lp, exact, a.op.kind == opFold)
				t.fold = a.op.kind == opFold
				if ok && !slices.ContainsFunc(out, func(u tenantRef) bool { return u.String() == t.String() && u.form == t.form && u.fold == t.fold }) {
					out = append(out, t)
				}
			}
		}
	}
	scan(c.s.Condition)
	if c.doc != nil {
		for _, s := range c.doc.Statements {
			if s.Effect == policy.Deny {
				scan(s.Condition)
			}
		}
	}
	return out
}

// untrustedTenants describes the tenants the conditions name that the
// configured trusted tenants do not list, or returns "".
func (c *stmtCtx) untrustedTenants(d *domain) string {
	if len(c.z.TrustedOIDCTenants) == 0 {
		return ""
	}
	var names []string
	for _, t := range c.tenants(d) {
		if !c.z.trustsTenant(t, t.fold) {
			names = append(names, t.describe())
		}
	}
	return strings.Join(names, "; ")
}

// unevaluatedKeys notes the condition keys of the statement that are under
// the issuer but are not keys STS evaluates for it (Service Authorization
// Reference for AWS STS, sts:AssumeRoleWithWebIdentity). STS leaves such a
// key out of the request, so a positive condition on it is false and the
// statement admits no one; a negated or …IfExists one is true for everyone.
// Either way it never confines, and removing the principal changes nothing
// for a statement that admitted no one.
func (c *stmtCtx) unevaluatedKeys(d *domain) string {
	var keys []string
	for _, op := range c.s.Condition {
		for _, k := range op.Keys {
			if len(k.Key) <= len(d.name) || k.Key[len(d.name)] != ':' || !strings.EqualFold(k.Key[:len(d.name)], d.name) {
				continue
			}
			if claim := k.Key[len(d.name)+1:]; !d.issuer.stsEvaluates(claim) && !slices.Contains(keys, k.Key) {
				keys = append(keys, k.Key)
			}
		}
	}
	if len(keys) == 0 {
		return ""
	}
	return "; " + strings.Join(keys, ", ") + " is not a condition key STS evaluates for this issuer: a positive condition on it admits no one, any other form admits everyone, and it confines nothing"
}

// cognitoControl is IAM's write rule for Amazon Cognito identity pools: a
// trust policy must evaluate cognito-identity.amazonaws.com:aud (IAM User
// Guide, "Identity-provider controls for shared OIDC providers").
var cognitoControl = sharedIssuer{requires: "aud"}

// ownClaims are the claims that pin the caller of a provider of one tenant.
var ownClaims = []string{"aud", "sub"}

// checkWritable handles a kept provider of a shared issuer whose Allow
// statement does not evaluate the claim IAM requires for it: IAM refuses
// to save such a trust policy (IAM User Guide, "Identity-provider controls
// for shared OIDC providers": existing policies are not re-evaluated, but
// "for any modifications to the role trust policy ... IAM will require that
// identity-provider controls be included"). It is kept while the policy need
// not be written; when it must be (c.strict), it is removed so that the
// write succeeds and every other removal takes effect.
func (c *stmtCtx) checkWritable(p *Principal, si *sharedIssuer, name string) {
	if si == nil || si.requiredIn(c.s.Condition, name) {
		return
	}
	req := name + ":" + si.requires
	if si.globalKey != "" {
		req = si.globalKey
	}
	if c.strict {
		p.Trusted, p.Risk = false, ""
		p.Reason = "confined, but its statement has no positive condition on " + req +
			", which IAM requires before it saves a trust policy for this shared issuer; the policy must be written, so the provider is removed"
		return
	}
	p.unwritable = true
}

// describeForms lists the value shapes that name a tenant of si, grouped
// by condition key (name is the provider as the keys spell it).
func (si *sharedIssuer) describeForms(name string) string {
	var parts []string
	var exact []string
	for i := 0; i < len(si.forms); {
		f := si.forms[i]
		key := f.claim
		if si.globalKey == "" {
			key = name + ":" + f.claim
		}
		if f.prefix == "" && f.term == 0 {
			exact = append(exact, key)
			i++
			continue
		}
		var shapes []string
		for ; i < len(si.forms) && si.forms[i].claim == f.claim && (si.forms[i].prefix != "" || si.forms[i].term != 0); i++ {
			shape := si.forms[i].prefix + "TENANT"
			if t := si.forms[i].term; t != 0 {
				shape += string(t)
			}
			shapes = append(shapes, shape)
		}
		parts = append(parts, key+" starting "+strings.Join(shapes, ", "))
	}
	if len(exact) > 0 {
		parts = append(parts, strings.Join(exact, ", ")+" equal to the tenant's identifier")
	}
	return strings.Join(parts, "; or ")
}

// judgePublicAs judges a public web identity provider whose condition keys
// start with keyName.
func judgePublicAs(p *Principal, c *stmtCtx, name string, claims []string, keyName string) {
	d := domain{kind: domPublic, z: c.z, name: keyName, claims: claims}
	by := d.confines(c.s.Condition)
	if by == "" {
		if by = c.denyOrJoint(p.Type, p.Value, &d); by != "" {
			by += ", which refuses every other audience"
		}
	}
	if by == "" {
		p.Reason = "public web identity provider " + name + ": every audience (" + keyName + ":" + strings.Join(claims, "/") +
			") it may receive must be a configured trusted audience (GUARDRAIL_TRUSTED_AUDIENCES), else it admits every user of any application that names it"
		return
	}
	p.Trusted, p.Reason = true, "public web identity provider confined to trusted audiences by "+by
	if name != "cognito-identity.amazonaws.com" {
		return
	}
	c.checkWritable(p, &cognitoControl, keyName)
	if p.Trusted {
		if amr := unauthenticatedAllowed(c.s.Condition, keyName); amr != "" {
			p.Risk = "unauthenticated (guest) identities of the identity pool may assume this role" + amr +
				"; anyone on the internet can get such an identity when the pool allows guest access"
		}
	}
}

// unauthenticatedAllowed returns a description when the statement's amr
// condition admits a Cognito identity whose amr is ["unauthenticated"]
// (Amazon Cognito Developer Guide, role trust and permissions: the amr of
// a guest identity is "unauthenticated"), or "" when it refuses it.
func unauthenticatedAllowed(c policy.Condition, name string) string {
	d := domain{kind: domPublic, z: &Zone{}, name: name, claims: []string{"amr"}}
	var buf [8]atom
	as, _, _ := d.atoms(c, buf[:0])
	guest := [1]string{"unauthenticated"}
	for i := range as {
		if !holdsFor(&as[i], guest[:]) {
			return ""
		}
	}
	if len(as) == 0 {
		return " (no " + name + ":amr condition)"
	}
	return " (" + describe(as, all64(len(as))) + ")"
}

func accountWord(z *Zone, id string) string {
	if id == z.Account {
		return "this account"
	}
	return "trusted account " + id
}
