// Package classify provides the role classes of DESIGN.md §3: it decides
// from a role's name, path and ARN, and the configured protections and
// exemptions, whether the guardrail may touch the role, and says why.
//
// Every role gets exactly one class, checked in this order (the first match
// wins): aws-managed, guardrail, exempt, service. Only service roles are
// changed. When the input is incomplete or contradictory the role is a
// service role: an unrecognised role is governed, never waved through.
package classify

import (
	"fmt"
	"path"
	"strings"
)

// Class is the class of a role, recorded in every decision.
type Class string

// The classes, in order of precedence.
const (
	// AWSManaged roles live on a path IAM reserves for roles AWS manages:
	// service-linked roles and IAM Identity Center roles. IAM refuses
	// changes to them (UnmodifiableEntity), so they are never touched.
	AWSManaged Class = "aws-managed"
	// Guardrail roles are the guardrail's own roles; never touched.
	Guardrail Class = "guardrail"
	// Exempt roles match a configured exemption; never touched.
	Exempt Class = "exempt"
	// Service roles are every other custom role; both controls apply.
	Service Class = "service"
)

// Reserved paths. IAM refuses CreateRole on them for customers ("Path prefix
// '/aws-service-role/' can only be used for AWS Service linked Roles"), so a
// role there really is AWS's; see aws-facts.md §2.5.
const (
	serviceLinkedPath = "/aws-service-role/"
	awsReservedPath   = "/aws-reserved/"
)

// Name prefixes AWS gives to service-linked and Identity Center roles. IAM
// does not document them as reserved, so a name alone never makes a role
// aws-managed: a custom role named like one is reported as an imitation.
var awsNamePrefixes = []string{"AWSServiceRoleFor", "AWSReservedSSO_"}

// Rules are the configured protections and exemptions (see pkg/config).
type Rules struct {
	// ProtectedRoleARNs are the guardrail's own roles: exact role ARNs or
	// ARN patterns where '*' matches any characters (including '/') and
	// '?' one character, as in IAM's ArnLike. Matching is case-sensitive.
	ProtectedRoleARNs []string
	// ExemptRoles are globs in path.Match syntax ('*' does not cross '/').
	// A glob without '/' matches the role name ("ci-*"); a glob starting
	// with '/' matches the role path ("/breakglass/" or "/breakglass/*",
	// the latter also matching only /breakglass/ itself since IAM paths
	// end in '/'; use "/teams/*/" for one level below /teams/). Matching
	// is case-sensitive; malformed globs never match.
	ExemptRoles []string
}

// Role identifies a role. Name and Path may be left empty when ARN is set;
// they are then taken from the ARN (arn:P:iam::ACCOUNT:role/PATH/NAME).
type Role struct {
	Name string // role name, e.g. "orders-api"
	Path string // role path, beginning and ending with '/', e.g. "/" or "/teams/a/"
	ARN  string // role ARN, which includes the path
}

// Result is a role's class and the rule that decided it.
type Result struct {
	Class  Class  `json:"class"`
	Reason string `json:"reason"`
}

// Classify returns the class of r under rules. It never fails: input it
// cannot make sense of yields Service, with a reason saying what was wrong.
func Classify(r Role, rules Rules) Result {
	name, rpath, problem := identity(r)
	if problem != "" {
		return Result{Service, problem + "; treated as a service role"}
	}

	switch {
	case strings.HasPrefix(rpath, serviceLinkedPath):
		return Result{AWSManaged, fmt.Sprintf("path %q is reserved for service-linked roles", rpath)}
	case strings.HasPrefix(rpath, awsReservedPath):
		return Result{AWSManaged, fmt.Sprintf("path %q is reserved for roles AWS manages (e.g. IAM Identity Center)", rpath)}
	}

	if r.ARN != "" {
		for _, p := range rules.ProtectedRoleARNs {
			if p == r.ARN {
				return Result{Guardrail, fmt.Sprintf("ARN is the protected guardrail role %q", p)}
			}
			if strings.ContainsAny(p, "*?") && wildcardMatch(p, r.ARN) {
				return Result{Guardrail, fmt.Sprintf("ARN matches protected guardrail role pattern %q", p)}
			}
		}
	}

	for _, g := range rules.ExemptRoles {
		if strings.HasPrefix(g, "/") {
			if ok, err := path.Match(g, rpath); err == nil && ok {
				return Result{Exempt, fmt.Sprintf("path %q matches exemption glob %q", rpath, g)}
			}
			continue
		}
		if strings.Contains(g, "/") {
			continue // neither a name nor a path glob; config rejects it
		}
		if ok, err := path.Match(g, name); err == nil && ok {
			return Result{Exempt, fmt.Sprintf("name matches exemption glob %q", g)}
		}
	}

	for _, pre := range awsNamePrefixes {
		if strings.HasPrefix(name, pre) {
			return Result{Service, fmt.Sprintf("custom role: name starts with %q like an AWS-managed role, but path %q is not reserved", pre, rpath)}
		}
	}
	return Result{Service, "custom role: no protection or exemption applies"}
}

// identity returns the role's name and path, completed from the ARN, or a
// description of why they cannot be trusted.
func identity(r Role) (name, rpath, problem string) {
	name, rpath = r.Name, r.Path
	if r.ARN != "" {
		an, ap, ok := splitRoleARN(r.ARN)
		if !ok {
			return "", "", fmt.Sprintf("ARN %q is not a role ARN", r.ARN)
		}
		// A name or path that disagrees with the ARN means the caller
		// mixed up two roles; deciding on either could exempt the wrong one.
		// Case alone is no disagreement: IAM role names are unique
		// regardless of case, and an event may carry the name as the
		// caller typed it. The ARN's spelling is the role's own.
		if (name != "" && !strings.EqualFold(name, an)) || (rpath != "" && !strings.EqualFold(rpath, ap)) {
			return "", "", fmt.Sprintf("name %q and path %q disagree with ARN %q", r.Name, r.Path, r.ARN)
		}
		name, rpath = an, ap
	}
	if rpath == "" {
		rpath = "/" // IAM's default path
	}
	switch {
	case name == "":
		return "", "", "role has no name"
	case !strings.HasPrefix(rpath, "/") || !strings.HasSuffix(rpath, "/"):
		return "", "", fmt.Sprintf("path %q does not begin and end with '/'", rpath)
	}
	return name, rpath, ""
}

// splitRoleARN splits arn:PARTITION:iam::ACCOUNT:role/PATH/NAME into name and
// path ("/PATH/", or "/" when there is none).
func splitRoleARN(arn string) (name, rpath string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] != "iam" || parts[3] != "" || parts[4] == "" {
		return "", "", false
	}
	res, found := strings.CutPrefix(parts[5], "role/")
	if !found || res == "" || strings.HasSuffix(res, "/") {
		return "", "", false
	}
	i := strings.LastIndexByte(res, '/')
	return res[i+1:], "/" + res[:i+1], true
}

// wildcardMatch reports whether s matches pattern, where '*' matches any
// sequence of characters (including none, and including '/' and ':') and '?'
// exactly one byte (role ARNs are ASCII), as IAM's ArnLike does. It runs in O(len(pattern)*len(s)) at
// worst, so a hostile pattern cannot make it blow up.
func wildcardMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			// checked first: a '*' in the pattern is a wildcard even
			// where s holds a literal '*'
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
