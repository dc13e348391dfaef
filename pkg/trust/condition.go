package trust

import (
	"strings"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// IAM evaluates a Condition block as an AND of its operators and keys and an
// OR of each key's values (IAM User Guide, reference_policies_condition-logic-
// multiple-context-keys-or-values). So one key whose every value is inside
// the zone confines the statement, whatever else the block says.
//
// Only positive, non-IfExists operators restrict. A missing key makes a
// positive operator false, but an …IfExists operator true and a negated one
// true (reference_policies_elements_condition_operators), and ForAllValues is
// true for an empty set: each of those admits a request that lacks the key,
// so none of them confines anything. Operator names are matched exactly,
// condition keys without regard to case, as IAM does.

// principalRestriction returns a description of the condition that confines
// the statement's principals to the zone's accounts or organizations, or "".
func principalRestriction(c policy.Condition, z Zone) string {
	for _, op := range c {
		for _, k := range op.Keys {
			if len(k.Values) == 0 {
				continue
			}
			ok := false
			switch strings.ToLower(k.Key) {
			case "aws:principalaccount":
				ok = (op.Operator == "StringEquals" || op.Operator == "StringEqualsIgnoreCase") &&
					all(k.Values, func(v string) bool { return isAccountID(v) && z.trustsAccount(v) })
			case "aws:principalorgid":
				ok = op.Operator == "StringEquals" && all(k.Values, z.trustsOrg)
			case "aws:principalorgpaths":
				// Paths read o-…/r-…/ou-…/; a value confines when its first
				// segment is a trusted organization written out literally.
				ok = (op.Operator == "ForAnyValue:StringEquals" || op.Operator == "ForAnyValue:StringLike") &&
					all(k.Values, func(v string) bool {
						org, _, found := strings.Cut(v, "/")
						return found && z.trustsOrg(org)
					})
			case "aws:principalarn":
				switch op.Operator {
				case "ArnEquals", "ArnLike":
					ok = all(k.Values, func(v string) bool { return arnInZone(v, z, false) })
				case "StringEquals", "StringLike":
					ok = all(k.Values, func(v string) bool { return arnInZone(v, z, true) })
				}
			}
			if ok {
				return op.Operator + " " + k.Key + " " + strings.Join(k.Values, ",")
			}
		}
	}
	return ""
}

// arnInZone reports whether an ARN pattern can only match principals of a
// zone account: its partition and account fields are literal and the account
// is trusted. With string operators a wildcard may span colons, so every
// field up to the account must be free of wildcards; Arn operators match
// field by field (reference_policies_elements_condition_operators#Conditions_ARN).
func arnInZone(v string, z Zone, stringOp bool) bool {
	f, ok := splitARN(v)
	if !ok || f[1] != z.partition() {
		return false
	}
	if stringOp && strings.ContainsAny(v[:len(v)-len(f[5])], "*?") {
		return false
	}
	return isAccountID(f[4]) && z.trustsAccount(f[4])
}

// sourceConditions reads aws:SourceAccount, aws:SourceArn and aws:SourceOrgID,
// the keys that say on whose behalf a service principal acts (IAM User Guide,
// confused-deputy). It returns a description of a value outside the zone, if
// any (the service may then act for a foreign account), and otherwise a
// description of a condition that pins the service to the zone, or "".
func sourceConditions(c policy.Condition, z Zone) (foreign, pinned string) {
	for _, op := range c {
		base, ifExists := positiveOperator(op.Operator)
		if base == "" {
			continue
		}
		for _, k := range op.Keys {
			var inZone func(string) (in, known bool)
			switch strings.ToLower(k.Key) {
			case "aws:sourceaccount":
				inZone = func(v string) (bool, bool) { return z.trustsAccount(v), isAccountID(v) }
			case "aws:sourcearn":
				inZone = func(v string) (bool, bool) {
					f, ok := splitARN(v)
					if !ok || !isAccountID(f[4]) {
						return false, false // no literal account (S3 ARNs, wildcards): cannot tell
					}
					return z.trustsAccount(f[4]), true
				}
			case "aws:sourceorgid":
				inZone = func(v string) (bool, bool) { return z.trustsOrg(v), isOrgID(v) }
			default:
				continue
			}
			allIn := len(k.Values) > 0
			for _, v := range k.Values {
				in, known := inZone(v)
				if known && !in {
					return op.Operator + " " + k.Key + " " + v, ""
				}
				allIn = allIn && in
			}
			if allIn && !ifExists && pinned == "" {
				pinned = op.Operator + " " + k.Key
			}
		}
	}
	return "", pinned
}

// positiveOperator returns the base of a string or ARN operator that admits
// only matching values (with a ForAnyValue: prefix or IfExists suffix
// removed), whether it was an IfExists form, or "" for any other operator.
func positiveOperator(op string) (base string, ifExists bool) {
	op = strings.TrimPrefix(op, "ForAnyValue:")
	base, ifExists = strings.CutSuffix(op, "IfExists")
	switch base {
	case "StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike":
		return base, ifExists
	}
	return "", false
}

// audienceCondition finds a StringEquals condition on one of the provider's
// audience keys (idp:aud, idp:app_id) with a non-empty value.
func audienceCondition(c policy.Condition, idp string, claims []string) string {
	for _, op := range c {
		if op.Operator != "StringEquals" {
			continue
		}
		for _, k := range op.Keys {
			for _, claim := range claims {
				if strings.EqualFold(k.Key, idp+":"+claim) && len(k.Values) > 0 && all(k.Values, nonEmpty) {
					return op.Operator + " " + k.Key
				}
			}
		}
	}
	return ""
}

// oidcConstraint finds the condition that confines an OIDC provider's tokens
// to specific identities. Multi-tenant issuers need a subject condition that
// names the tenant; a provider of one's own (an EKS cluster, a company IdP)
// is confined by its audience or its subject. It returns a description of
// the condition, or "" and the condition that is needed.
func oidcConstraint(c policy.Condition, host string) (by, need string) {
	multi := false
	for _, h := range multiTenantOIDC {
		if host == h || strings.HasPrefix(host, h+"/") {
			multi = true
		}
	}
	need = "a StringEquals or StringLike condition on " + host + ":aud or " + host + ":sub"
	if multi {
		need = "a StringEquals or StringLike condition on " + host + ":sub that names the owner (as in repo:OWNER/…)"
	}
	for _, op := range c {
		var like bool
		switch strings.TrimPrefix(op.Operator, "ForAnyValue:") {
		case "StringEquals", "StringEqualsIgnoreCase":
		case "StringLike":
			like = true
		default:
			continue
		}
		for _, k := range op.Keys {
			claim, found := strings.CutPrefix(strings.ToLower(k.Key), strings.ToLower(host)+":")
			if !found || (claim != "sub" && (multi || claim != "aud")) || len(k.Values) == 0 {
				continue
			}
			ok := all(k.Values, func(v string) bool {
				if !like {
					return v != ""
				}
				prefix := v
				if i := strings.IndexAny(v, "*?"); i >= 0 {
					prefix = v[:i]
				}
				if multi {
					return tenantSubRE.MatchString(prefix)
				}
				return prefix != ""
			})
			if ok {
				return op.Operator + " " + k.Key + " " + strings.Join(k.Values, ","), need
			}
		}
	}
	return "", need
}

func all(vals []string, fn func(string) bool) bool {
	for _, v := range vals {
		if !fn(v) {
			return false
		}
	}
	return true
}

func nonEmpty(s string) bool { return s != "" }
