package trust

import (
	"reflect"
	"strings"
	"testing"
)

// TestSharedIssuerTenants: the patterns name exactly the trusted tenants,
// in every form the engine recognises, and never a look-alike.
func TestSharedIssuerTenants(t *testing.T) {
	got := SharedIssuerTenants([]string{"github:acme", "github-id:42", "terraform:acme", "azure-sentinel:x", "gitlab:grp$x"})
	providers := map[string]TenantPatterns{}
	for _, tp := range got {
		providers[tp.Provider] = tp
	}
	var names []string
	for _, tp := range got {
		names = append(names, tp.Provider)
	}
	want := []string{"app.eu.terraform.io", "app.terraform.io", "token.actions.githubusercontent.com", "vstoken.actions.githubusercontent.com"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("providers %v, want %v (sorted; Sentinel's global key and a tenant holding '$' left out)", names, want)
	}
	gh := providers["token.actions.githubusercontent.com"].Claims
	match := func(claim, v string) bool {
		for _, p := range gh[claim] {
			// StringLike, for patterns whose only wildcard is a final
			// '*' (checked below).
			if strings.ContainsAny(strings.TrimSuffix(p, "*"), "*?") {
				t.Errorf("pattern %q has a wildcard before its end", p)
			}
			if p == v || strings.HasSuffix(p, "*") && strings.HasPrefix(v, strings.TrimSuffix(p, "*")) {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		claim, value string
		want         bool
	}{
		{"sub", "repo:acme/app:ref:refs/heads/main", true},
		{"sub", "repo:acme@42/app@7:ref:refs/heads/main", true},
		{"sub", "repository_owner:acme:environment:prod", true},
		{"sub", "repository_owner_id:42:environment:prod", true},
		{"sub", "repo:acme-evil/app:ref:refs/heads/main", false},
		{"sub", "repo:acmex/app", false},
		{"sub", "repository_owner_id:421:environment:prod", false},
		{"sub", "job_workflow_ref:acme/wf/.github/workflows/x.yml@refs/heads/main", false},
		{"repository", "acme/app", true},
		{"repository", "acme-evil/app", false},
		{"repository_owner_id", "42", true},
		{"repository_owner_id", "421", false},
	} {
		if got := match(tc.claim, tc.value); got != tc.want {
			t.Errorf("%s %q matched %t, want %t (patterns %v)", tc.claim, tc.value, got, tc.want, gh[tc.claim])
		}
	}
	if len(SharedIssuerTenants(nil)) != 0 {
		t.Error("no trusted tenants must give no statements")
	}
	for name, claim := range PublicProviders() {
		if _, claims, ok := publicIdP(name); !ok || claims[len(claims)-1] != claim {
			t.Errorf("PublicProviders %s:%s disagrees with the engine's table", name, claim)
		}
	}
}
