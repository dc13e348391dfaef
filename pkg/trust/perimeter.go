package trust

import (
	"sort"
	"strings"
)

// TenantPatterns are the condition values that name a trusted tenant of one
// shared OIDC issuer, for a policy that confines the issuer's tokens to
// those tenants without reading a trust policy: pkg/perimeter's resource
// control policy. They come from the same issuer table (ISSUERS.md) that the
// engine judges trust policies by, so the two agree on what names a tenant.
type TenantPatterns struct {
	// Provider is the issuer as IAM prefixes its condition keys: host, and
	// "/path" when the issuer has one ("token.actions.githubusercontent.com",
	// "api.pulumi.com/oidc").
	Provider string
	// Claims maps a claim that STS evaluates as the condition key
	// Provider+":"+claim to StringLike patterns: a token is a trusted
	// tenant's when one of its claims matches one of that claim's patterns.
	// The patterns hold no wildcard but the trailing '*' they are built
	// with, since a trusted tenant's identifier holds none.
	Claims map[string][]string
}

// SharedIssuerTenants returns, for each shared issuer that at least one of
// the trusted tenants belongs to, the patterns that name those tenants;
// tenants must be valid (ValidateTenant). Issuers named by a global key
// instead of a claim (Microsoft Sentinel's sts:RoleSessionName) are left
// out, as are tenants that hold '$', which IAM would read as the start of a
// policy variable. The result is sorted by provider.
//
// A pattern is built from each owner form (ownerForm) of the tenant's kind:
// prefix, identifier and terminator followed by '*' (the literal part holds
// the whole form, terminator included, so "repo:acme/*" never matches
// "repo:acme-evil/…"), and the bare prefix and identifier for a value that
// ends with the name. GitHub's immutable subject repo:OWNER@OWNER_ID/… is
// matched by "repo:OWNER@*", since '@' cannot occur in a GitHub name
// (githubOwner). Owner IDs are matched through the claims that carry them
// (repository_owner_id), never through a subject pattern: "repo:*@ID/*"
// would also match a repository whose own ID is ID.
func SharedIssuerTenants(tenants []string) []TenantPatterns {
	var out []TenantPatterns
	for i := range sharedIssuers {
		si := &sharedIssuers[i]
		if si.globalKey != "" {
			continue
		}
		claims := map[string][]string{}
		for _, e := range tenants {
			kind, id, _ := strings.Cut(e, ":")
			if id == "" || strings.ContainsAny(id, "$*?") {
				continue
			}
			for j := range si.forms {
				f := &si.forms[j]
				if f.tenant != kind {
					continue
				}
				add := func(p string) {
					for _, q := range claims[f.claim] {
						if q == p {
							return
						}
					}
					claims[f.claim] = append(claims[f.claim], p)
				}
				add(f.prefix + id)
				if f.term != 0 {
					add(f.prefix + id + string(f.term) + "*")
				}
				if f.github {
					add(f.prefix + id + "@*")
				}
			}
		}
		if len(claims) == 0 {
			continue
		}
		provider := si.host
		if si.path != "" {
			provider += "/" + si.path
		}
		out = append(out, TenantPatterns{Provider: provider, Claims: claims})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Provider < out[j].Provider })
	return out
}

// PublicProviders returns the public web identity providers IAM accepts by
// name (cognito-identity.amazonaws.com, accounts.google.com,
// graph.facebook.com, www.amazon.com), each mapped to the claim that carries
// the application ID a trusted audience names: one of the claims the engine
// compares with the trusted audiences (publicIdPs).
func PublicProviders() map[string]string {
	out := map[string]string{}
	for name, claims := range publicIdPs {
		// The last claim listed names the application: app_id for
		// Facebook and Login with Amazon, aud for the others.
		out[name] = claims[len(claims)-1]
	}
	return out
}
