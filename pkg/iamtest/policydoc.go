package iamtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// node is one JSON value of a policy document, with the byte span of string
// values in the raw text so principals can be re-rendered in place (IAM keeps
// a document exactly as submitted, white space included, but shows a deleted
// principal by its unique ID).
type node struct {
	kind       byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	str        string
	start, end int // byte span of a string literal (quotes included)
	keys       []string
	vals       []*node
	items      []*node
}

// get returns the member named key of an object node, or nil.
func (n *node) get(key string) *node {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// strings returns the string values of a string-or-list node, and whether
// the node had that shape.
func (n *node) stringsOf() ([]*node, bool) {
	switch n.kind {
	case 's':
		return []*node{n}, true
	case 'a':
		if len(n.items) == 0 {
			return nil, false
		}
		for _, it := range n.items {
			if it.kind != 's' {
				return nil, false
			}
		}
		return n.items, true
	}
	return nil, false
}

var errSyntax = errors.New("syntax errors in policy")

// parseTree decodes raw into a node tree. It rejects anything but a single
// JSON object and duplicate member names (which IAM and a policy engine
// could resolve differently).
func parseTree(raw string) (*node, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	root, err := parseValue(dec, raw)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errSyntax
	}
	if root.kind != 'o' {
		return nil, errSyntax
	}
	return root, nil
}

func parseValue(dec *json.Decoder, raw string) (*node, error) {
	off := int(dec.InputOffset())
	tok, err := dec.Token()
	if err != nil {
		return nil, errSyntax
	}
	return parseFrom(dec, raw, tok, off)
}

func parseFrom(dec *json.Decoder, raw string, tok json.Token, off int) (*node, error) {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: 'o'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, errSyntax
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errSyntax
				}
				if n.get(k) != nil {
					return nil, fmt.Errorf("%w: duplicate element %q", errSyntax, k)
				}
				v, err := parseValue(dec, raw)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k)
				n.vals = append(n.vals, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, errSyntax
			}
			return n, nil
		case '[':
			n := &node{kind: 'a'}
			for dec.More() {
				v, err := parseValue(dec, raw)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, errSyntax
			}
			return n, nil
		}
		return nil, errSyntax
	case string:
		end := int(dec.InputOffset())
		// Between the previous offset and the literal there is only white
		// space and separators, so the first quote opens the literal.
		start := off + strings.IndexByte(raw[off:end], '"')
		return &node{kind: 's', str: t, start: start, end: end}, nil
	case json.Number:
		return &node{kind: 'n', str: t.String()}, nil
	case bool:
		return &node{kind: 'b'}, nil
	case nil:
		return &node{kind: 'z'}, nil
	}
	return nil, errSyntax
}

// policySize counts a document the way IAM applies its size quotas: white
// space is not counted ("IAM doesn't count white space when calculating the
// size of a policy against these limits", IAM User Guide, "IAM and AWS STS
// quotas"; GetAccountSummary reports AssumeRolePolicySizeQuota and
// PolicySizeQuota in non-whitespace characters), that is the white space
// between JSON tokens, which encoding/json's Compact removes; every other
// character, string contents included, counts once. It is written apart from
// pkg/lockdown's Size (a hand-written scanner) so that a test comparing the
// two checks one against the other. Text that is not JSON counts every
// character, which never makes the stand-in accept what IAM would refuse.
func policySize(raw string) int {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(raw)); err != nil {
		return utf8.RuneCountInString(raw)
	}
	return utf8.RuneCount(b.Bytes())
}

// docKind says which grammar a document follows.
type docKind int

const (
	trustPolicy    docKind = iota // role trust policy: Principal required, Resource prohibited
	identityPolicy                // managed or inline permissions policy: Resource required, Principal prohibited
)

// principalRef is an AWS principal value found in a trust policy, with its
// span in the raw text.
type principalRef struct {
	value      string
	start, end int
}

// parsedDoc is a validated document: its tree and its AWS principal values.
type parsedDoc struct {
	root *node
	aws  []principalRef
	// bareStar is true when a statement uses "Principal": "*".
	bareStar bool
}

var (
	actionRe  = regexp.MustCompile(`^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$`)
	versionOK = map[string]bool{"2012-10-17": true, "2008-10-17": true}
)

// checkChars enforces the characters IAM allows in a policy document: tab,
// line feed, carriage return and U+0020 through U+00FF (IAM quotas page,
// "IAM and AWS STS quotas", characters in policy documents).
func checkChars(raw string) *apiError {
	if !utf8.ValidString(raw) {
		return errMalformed("Syntax errors in policy.")
	}
	for _, r := range raw {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xFF) {
			continue
		}
		return errMalformed("The policy contains the character %U, which is not allowed in policy documents.", r)
	}
	return nil
}

// validateDoc checks a document against IAM's grammar for its kind. It does
// not resolve principals; the caller does that against account state.
func validateDoc(raw string, kind docKind) (*parsedDoc, *apiError) {
	if strings.TrimSpace(raw) == "" {
		return nil, errMalformed("Syntax errors in policy.")
	}
	if e := checkChars(raw); e != nil {
		return nil, e
	}
	root, err := parseTree(raw)
	if err != nil {
		return nil, errMalformed("Syntax errors in policy.")
	}
	for _, k := range root.keys {
		switch k {
		case "Version", "Id", "Statement":
		default:
			return nil, errMalformed("Syntax errors in policy.")
		}
	}
	if v := root.get("Version"); v != nil && (v.kind != 's' || !versionOK[v.str]) {
		return nil, errMalformed("The policy failed legacy parsing")
	}
	st := root.get("Statement")
	if st == nil {
		return nil, errMalformed("Syntax errors in policy.")
	}
	var stmts []*node
	switch st.kind {
	case 'o':
		stmts = []*node{st}
	case 'a':
		stmts = st.items
	default:
		return nil, errMalformed("Syntax errors in policy.")
	}
	if len(stmts) == 0 {
		return nil, errMalformed("Syntax errors in policy.")
	}
	pd := &parsedDoc{root: root}
	for _, s := range stmts {
		if e := validateStatement(s, kind, pd); e != nil {
			return nil, e
		}
	}
	return pd, nil
}

func validateStatement(s *node, kind docKind, pd *parsedDoc) *apiError {
	if s.kind != 'o' {
		return errMalformed("Syntax errors in policy.")
	}
	for _, k := range s.keys {
		switch k {
		case "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
			"Principal", "NotPrincipal", "Condition":
		default:
			return errMalformed("Syntax errors in policy.")
		}
	}
	if sid := s.get("Sid"); sid != nil && sid.kind != 's' {
		return errMalformed("Syntax errors in policy.")
	}
	eff := s.get("Effect")
	if eff == nil || eff.kind != 's' {
		return errMalformed("Syntax errors in policy.")
	}
	if eff.str != "Allow" && eff.str != "Deny" {
		return errMalformed("Invalid effect: %s", eff.str)
	}
	a, na := s.get("Action"), s.get("NotAction")
	if (a == nil) == (na == nil) {
		return errMalformed("Policy statement must contain actions.")
	}
	if a == nil {
		a = na
	}
	acts, ok := a.stringsOf()
	if !ok {
		return errMalformed("Syntax errors in policy.")
	}
	for _, act := range acts {
		if act.str != "*" && !actionRe.MatchString(act.str) {
			return errMalformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
		}
	}
	if kind == trustPolicy {
		if e := checkTrustActions(acts, na != nil); e != nil {
			return e
		}
	}
	if c := s.get("Condition"); c != nil {
		if e := validateCondition(c); e != nil {
			return e
		}
	}
	hasRes := s.get("Resource") != nil || s.get("NotResource") != nil
	p, np := s.get("Principal"), s.get("NotPrincipal")
	switch kind {
	case identityPolicy:
		if p != nil || np != nil {
			return errMalformed("Policy document should not specify a principal.")
		}
		if !hasRes {
			return errMalformed("Policy statement must contain resources.")
		}
		r := s.get("Resource")
		if r == nil {
			r = s.get("NotResource")
		}
		if s.get("Resource") != nil && s.get("NotResource") != nil {
			return errMalformed("Syntax errors in policy.")
		}
		if _, ok := r.stringsOf(); !ok {
			return errMalformed("Syntax errors in policy.")
		}
	case trustPolicy:
		if hasRes {
			if s.get("Resource") != nil {
				return errMalformed("Has prohibited field Resource")
			}
			return errMalformed("Has prohibited field NotResource")
		}
		if p == nil && np == nil {
			return errMalformed("Missing required field Principal")
		}
		if p != nil && np != nil {
			return errMalformed("Syntax errors in policy.")
		}
		if np != nil && eff.str == "Allow" {
			// NotPrincipal is only supported with Deny (IAM User Guide,
			// "AWS JSON policy elements: NotPrincipal").
			return errMalformed("Has prohibited field NotPrincipal")
		}
		if p == nil {
			p = np
		}
		if e := collectPrincipals(p, pd); e != nil {
			return e
		}
		if eff.str == "Allow" && s.get("Principal") != nil {
			if e := checkIdentityProviderControls(p, s.get("Condition")); e != nil {
				return e
			}
		}
	}
	return nil
}

// identityProviderControl is one row of IAM's table of shared OIDC
// providers: the issuer (host, and path when the issuer has one) and the
// condition key a trust policy that trusts it must evaluate.
//
// "For recognized shared OpenID Connect (OIDC) identity providers (IdPs), IAM
// requires explicit evaluation of specific claims in role trust policies.
// These required claims, called identity-provider controls, are evaluated by
// IAM during role creation and trust policy updates. If the role trust policy
// does not evaluate the controls required by the shared OIDC IdP, the role
// creation or update would fail." (IAM User Guide, "Identity-provider
// controls for shared OIDC providers",
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_oidc_secure-by-default.html;
// since June 2025). The per-provider claims follow that page's table (as
// transcribed by two independent sources that agree row for row). Where
// AWS's RCP sample "Limit-access-to-trusted-OIDC-identity-providers/
// Shared-Issuers.json" uses sub instead (Pulumi, Vercel), the page is
// followed: it states the write rule, the sample is a perimeter policy.
// Amazon Cognito identity pools follow the older rule of the STS API
// Reference (AssumeRoleWithWebIdentity, RoleArn: the trust policy "must
// contain the cognito-identity.amazonaws.com:aud condition key").
type identityProviderControl struct {
	issuer string // host[/path], compared without regard to case
	key    string // the condition key, compared without regard to case
}

var identityProviderControls = func() []identityProviderControl {
	sub := []string{"token.actions.githubusercontent.com", "vstoken.actions.githubusercontent.com",
		"oidc-configuration.audit-log.githubusercontent.com", "gitlab.com", "app.terraform.io", "agent.buildkite.com",
		"oidc.codefresh.io", "studio.datachain.ai/api", "scalr.io", "tokens.cloud.shisho.dev", "proidc.upbound.io",
		"rh-oidc.s3.us-east-1.amazonaws.com/22ejnvnnturfmt6km08idd0nt4hekbn7", "rh-oidc.s3.us-east-1.amazonaws.com/23e3sd27sju1hoou6ohfs68vbno607tr",
		"rh-oidc.s3.us-east-1.amazonaws.com/23ne21h005qjl3n33d8dui5dlrmv2tmg", "rh-oidc.s3.us-east-1.amazonaws.com/24jrf12m5dj7ljlfb4ta2frhrcoadm26",
		"oidc.op1.openshiftapps.com/2f785sojlpb85i7402pk3qogugim5nfb", "oidc.op1.openshiftapps.com/2c51blsaqa9gkjt0o9rt11mle8mmropu"}
	var out []identityProviderControl
	for _, i := range sub {
		out = append(out, identityProviderControl{i, i + ":sub"})
	}
	for _, i := range []string{"api.pulumi.com/oidc", "oidc.vercel.com", "sandboxes.cloud", "cognito-identity.amazonaws.com"} {
		out = append(out, identityProviderControl{i, i + ":aud"})
	}
	// Microsoft Sentinel: the control is the global key sts:RoleSessionName.
	return append(out, identityProviderControl{"sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d", "sts:RoleSessionName"})
}()

// checkIdentityProviderControls refuses an Allow statement that trusts a
// shared OIDC provider on IAM's list without evaluating the provider's
// control. The page documents neither the error code nor the operator forms
// that satisfy it; the stand-in answers MalformedPolicyDocument with a
// message of its own, and counts only a positive string operator
// (StringEquals, StringEqualsIgnoreCase, StringLike, optionally prefixed
// ForAnyValue:) on the key with a value that is not only wildcards, so that
// it never accepts what IAM might refuse. …IfExists, ForAllValues: (both
// true when the claim is absent), negated operators and wildcard-only values
// do not count.
func checkIdentityProviderControls(p, cond *node) *apiError {
	if p.kind != 'o' {
		return nil
	}
	fed := p.get("Federated")
	if fed == nil {
		return nil
	}
	vals, _ := fed.stringsOf()
	for _, v := range vals {
		name := v.str
		if i := strings.Index(name, ":oidc-provider/"); strings.HasPrefix(name, "arn:") && i >= 0 {
			name = name[i+len(":oidc-provider/"):]
		} else if strings.HasPrefix(name, "arn:") {
			continue
		}
		host, path, _ := strings.Cut(name, "/")
		issuer := host
		if path = strings.TrimRight(path, "/"); path != "" {
			issuer += "/" + path
		}
		for _, ctl := range identityProviderControls {
			if strings.EqualFold(issuer, ctl.issuer) && !evaluatesKey(cond, ctl.key) {
				return errMalformed("The trust policy trusts the shared OIDC identity provider %s but does not evaluate %s (identity-provider controls for shared OIDC providers).", name, ctl.key)
			}
		}
	}
	return nil
}

// evaluatesKey reports whether a Condition element evaluates key with a
// positive string operator and a value that is not only wildcards.
func evaluatesKey(cond *node, key string) bool {
	if cond == nil || cond.kind != 'o' {
		return false
	}
	for i, op := range cond.keys {
		base := strings.TrimPrefix(op, "ForAnyValue:")
		if base != "StringEquals" && base != "StringEqualsIgnoreCase" && base != "StringLike" {
			continue
		}
		blk := cond.vals[i]
		for j, k := range blk.keys {
			if !strings.EqualFold(k, key) {
				continue
			}
			vals, ok := blk.vals[j].stringsOf()
			if !ok {
				continue
			}
			for _, v := range vals {
				if strings.Trim(v.str, "*?") != "" {
					return true
				}
			}
		}
	}
	return false
}

// trustActions are the actions a role trust policy may name, lower-cased
// (IAM compares action names case-insensitively: IAM User Guide, "IAM JSON
// policy elements: Action"). They are the STS calls that start a session
// with the role and the permission-only actions checked while doing so:
//   - sts:AssumeRole, sts:AssumeRoleWithSAML, sts:AssumeRoleWithWebIdentity
//     (IAM User Guide, "Roles terms and concepts": trust policy; Service
//     Authorization Reference, "Actions, resources, and condition keys for
//     AWS Security Token Service",
//     https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecuritytokenservice.html);
//   - sts:TagSession (IAM User Guide, "Passing session tags in AWS STS":
//     the role's trust policy must allow it);
//   - sts:SetSourceIdentity (IAM User Guide, "Monitor and control actions
//     taken with assumed roles": the trust policy must allow it);
//   - sts:SetContext (IAM Identity Center trusted identity propagation: the
//     role's trust policy allows it for context assertions; STS service
//     authorization reference).
var trustActions = map[string]bool{
	"sts:assumerole":                true,
	"sts:assumerolewithsaml":        true,
	"sts:assumerolewithwebidentity": true,
	"sts:tagsession":                true,
	"sts:setsourceidentity":         true,
	"sts:setcontext":                true,
}

// checkTrustActions refuses a trust-policy action that is not an STS action
// a trust policy may grant, with the message IAM answers
// (MalformedPolicyDocument "AssumeRole policy may only specify STS
// AssumeRole actions."). IAM's behaviour for wildcards ("*", "sts:*",
// "sts:AssumeRole*") and for NotAction in a trust policy is not documented:
// the stand-in refuses them too, because the product's own writes are tested
// against it and it must never accept what real IAM might refuse.
func checkTrustActions(acts []*node, notAction bool) *apiError {
	const msg = "AssumeRole policy may only specify STS AssumeRole actions."
	if notAction {
		return errMalformed(msg)
	}
	for _, a := range acts {
		if !trustActions[strings.ToLower(a.str)] {
			return errMalformed(msg)
		}
	}
	return nil
}

func validateCondition(c *node) *apiError {
	if c.kind != 'o' {
		return errMalformed("Syntax errors in policy.")
	}
	for _, blk := range c.vals {
		if blk.kind != 'o' {
			return errMalformed("Syntax errors in policy.")
		}
		for _, v := range blk.vals {
			switch v.kind {
			case 's', 'n', 'b':
			case 'a':
				for _, it := range v.items {
					if it.kind != 's' && it.kind != 'n' && it.kind != 'b' {
						return errMalformed("Syntax errors in policy.")
					}
				}
			default:
				return errMalformed("Syntax errors in policy.")
			}
		}
	}
	return nil
}

var (
	accountIDRe   = regexp.MustCompile(`^[0-9]{12}$`)
	uniqueIDRe    = regexp.MustCompile(`^(AROA|AIDA)[A-Z0-9]{16,}$`)
	servicePrinRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*\.(amazonaws\.com|amazonaws\.com\.cn|amazon\.com)$`)
	canonicalRe   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// arnPrinRe matches the principal ARN forms a trust policy accepts.
	arnPrinRe = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):(iam|sts)::([0-9]{12}):(root|role/.+|user/.+|assumed-role/[^/]+/.+|federated-user/.+)$`)
	idpArnRe  = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::[0-9]{12}:(saml-provider/[\w+=,.@-]+|oidc-provider/.+)$`)
	webIDPs   = map[string]bool{
		"cognito-identity.amazonaws.com": true, "accounts.google.com": true,
		"graph.facebook.com": true, "www.amazon.com": true,
	}
)

func invalidPrincipal(typ, value string) *apiError {
	b, _ := json.Marshal(value)
	return errMalformed("Invalid principal in policy: %q:%s", typ, b)
}

// collectPrincipals checks the syntax of a Principal / NotPrincipal element
// and records its AWS values for resolution against the account.
func collectPrincipals(p *node, pd *parsedDoc) *apiError {
	if p.kind == 's' {
		if p.str != "*" {
			return invalidPrincipal("STAR", p.str)
		}
		pd.bareStar = true
		return nil
	}
	if p.kind != 'o' || len(p.keys) == 0 {
		return errMalformed("Syntax errors in policy.")
	}
	for i, typ := range p.keys {
		vals, ok := p.vals[i].stringsOf()
		if !ok {
			return errMalformed("Syntax errors in policy.")
		}
		for _, v := range vals {
			switch typ {
			case "AWS":
				if v.str != "*" && !accountIDRe.MatchString(v.str) && !uniqueIDRe.MatchString(v.str) {
					m := arnPrinRe.FindStringSubmatch(v.str)
					// A wildcard inside a principal ARN is not allowed; only
					// the bare "*" is (IAM User Guide, Principal element).
					if m == nil || strings.ContainsAny(v.str, "*?") {
						return invalidPrincipal("AWS", v.str)
					}
					if (m[2] == "sts") != (strings.HasPrefix(m[4], "assumed-role/") || strings.HasPrefix(m[4], "federated-user/")) {
						return invalidPrincipal("AWS", v.str)
					}
				}
				pd.aws = append(pd.aws, principalRef{value: v.str, start: v.start, end: v.end})
			case "Service":
				if !servicePrinRe.MatchString(v.str) {
					return invalidPrincipal("SERVICE", v.str)
				}
			case "Federated":
				if !webIDPs[v.str] && !idpArnRe.MatchString(v.str) {
					return invalidPrincipal("FEDERATED", v.str)
				}
			case "CanonicalUser":
				if !canonicalRe.MatchString(v.str) {
					return invalidPrincipal("CANONICAL_USER", v.str)
				}
			default:
				return invalidPrincipal(strings.ToUpper(typ), v.str)
			}
		}
	}
	return nil
}

// trustDoc is a stored trust policy: the text as submitted plus the AWS
// principals IAM resolved to unique IDs when it was saved.
type trustDoc struct {
	raw  string
	refs []idRef // sorted by start
}

// idRef ties the span of a principal string to the unique ID of the role or
// user it named when the document was saved.
type idRef struct {
	start, end int
	id         string
}

// render returns the document as IAM shows it now: a reference whose entity
// still exists is shown by that entity's ARN, one whose entity was deleted by
// the bare unique ID (IAM User Guide, "Role trust policy examples": a
// deleted principal appears as its unique ID and recreating a same-named
// role does not restore the trust).
func (d trustDoc) render(arnOf func(id string) (string, bool)) string {
	if len(d.refs) == 0 {
		return d.raw
	}
	var b bytes.Buffer
	last := 0
	for _, r := range d.refs {
		b.WriteString(d.raw[last:r.start])
		shown := r.id
		if arn, ok := arnOf(r.id); ok {
			shown = arn
		}
		q, _ := json.Marshal(shown)
		b.Write(q)
		last = r.end
	}
	b.WriteString(d.raw[last:])
	return b.String()
}

func sortRefs(refs []idRef) {
	sort.Slice(refs, func(i, j int) bool { return refs[i].start < refs[j].start })
}
