package settings

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/pkg/config"
)

// validOrg is a complete organization object; tests edit copies of it.
func validOrg() map[string]any {
	return map[string]any{
		OrgKeyID: "o-a1b2c3d4e5", OrgKeyHubAccount: "111122223333",
		OrgKeyMemberOUs: []any{"ou-ab12-cd34ef56", "ou-ab12-zz99yy88"},
	}
}

func withOrg(edit func(o map[string]any)) map[string]any {
	o := validOrg()
	edit(o)
	return map[string]any{KeyOrganization: o}
}

func TestParseOrganization(t *testing.T) {
	tests := []struct {
		name string
		ctx  map[string]any
		want *Organization
	}{
		{"absent", map[string]any{}, nil},
		{"null", map[string]any{KeyOrganization: nil}, nil},
		{"-c empty string", map[string]any{KeyOrganization: ""}, nil},
		{"OUs, management account by default", withOrg(func(map[string]any) {}), &Organization{
			ID: "o-a1b2c3d4e5", HubAccount: "111122223333", Targets: []string{"ou-ab12-cd34ef56", "ou-ab12-zz99yy88"}, CallAs: CallAsSelf,
		}},
		{"all: the root", withOrg(func(o map[string]any) {
			o[OrgKeyMemberOUs] = "all"
			o[OrgKeyRootID] = "r-ab12"
			o[OrgKeyDeployFrom] = "delegatedAdmin"
		}), &Organization{ID: "o-a1b2c3d4e5", HubAccount: "111122223333", Targets: []string{"r-ab12"}, All: true, CallAs: CallAsDelegatedAdmin}},
		{"root ID among the targets, management", withOrg(func(o map[string]any) {
			o[OrgKeyMemberOUs] = []any{"r-ab12"}
			o[OrgKeyDeployFrom] = "management"
		}), &Organization{ID: "o-a1b2c3d4e5", HubAccount: "111122223333", Targets: []string{"r-ab12"}, CallAs: CallAsSelf}},
		{"overrides and account list", withOrg(func(o map[string]any) {
			o[OrgKeyTrustedOrgIDs] = []any{"o-zzzzzzzzzz", "o-a1b2c3d4e5"}
			o[OrgKeyMemberAccounts] = "444455556666, 777788889999"
		}), &Organization{
			ID: "o-a1b2c3d4e5", HubAccount: "111122223333", Targets: []string{"ou-ab12-cd34ef56", "ou-ab12-zz99yy88"}, CallAs: CallAsSelf,
			TrustedOrgIDs: []string{"o-zzzzzzzzzz", "o-a1b2c3d4e5"}, MemberAccounts: []string{"444455556666", "777788889999"},
		}},
		{"-c JSON text", map[string]any{KeyOrganization: `{"organizationId":"o-a1b2c3d4e5","hubAccount":"111122223333","memberOUs":"ou-ab12-cd34ef56"}`},
			&Organization{ID: "o-a1b2c3d4e5", HubAccount: "111122223333", Targets: []string{"ou-ab12-cd34ef56"}, CallAs: CallAsSelf}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(getter(tt.ctx))
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if !reflect.DeepEqual(s.Organization, tt.want) {
				t.Errorf("Organization = %+v, want %+v", s.Organization, tt.want)
			}
		})
	}
}

// TestParseOrganizationErrors checks that every invalid organization value
// is reported under its own key, "organization.<key>".
func TestParseOrganizationErrors(t *testing.T) {
	tests := []struct {
		name     string
		ctx      map[string]any
		wantKeys []string
	}{
		{"not an object", map[string]any{KeyOrganization: 42.0}, []string{"organization"}},
		{"-c text that is not JSON", map[string]any{KeyOrganization: "hub=1"}, []string{"organization"}},
		{"empty object", map[string]any{KeyOrganization: map[string]any{}},
			[]string{"organization.organizationId", "organization.hubAccount", "organization.memberOUs"}},
		{"unknown key", withOrg(func(o map[string]any) { o["hubAcount"] = "111122223333" }), []string{"organization.hubAcount"}},
		{"bad organization ID", withOrg(func(o map[string]any) { o[OrgKeyID] = "o-AB" }), []string{"organization.organizationId"}},
		{"organization ID not a string", withOrg(func(o map[string]any) { o[OrgKeyID] = 1.0 }), []string{"organization.organizationId"}},
		{"bad hub account", withOrg(func(o map[string]any) { o[OrgKeyHubAccount] = "1111-2222-3333" }), []string{"organization.hubAccount"}},
		{"bad OU", withOrg(func(o map[string]any) { o[OrgKeyMemberOUs] = []any{"ou-ab12-cd34ef56", "Production"} }), []string{"organization.memberOUs"}},
		{"empty OU list", withOrg(func(o map[string]any) { o[OrgKeyMemberOUs] = []any{} }), []string{"organization.memberOUs"}},
		{"OU list of numbers", withOrg(func(o map[string]any) { o[OrgKeyMemberOUs] = []any{1.0} }), []string{"organization.memberOUs"}},
		{"all without the root", withOrg(func(o map[string]any) { o[OrgKeyMemberOUs] = "all" }), []string{"organization.rootId"}},
		{"bad root", withOrg(func(o map[string]any) { o[OrgKeyMemberOUs] = "all"; o[OrgKeyRootID] = "root" }), []string{"organization.rootId"}},
		{"bad deployFrom", withOrg(func(o map[string]any) { o[OrgKeyDeployFrom] = "DELEGATED_ADMIN" }), []string{"organization.deployFrom"}},
		{"bad trusted org", withOrg(func(o map[string]any) { o[OrgKeyTrustedOrgIDs] = []any{"o-a1b2c3d4e5", "acme"} }), []string{"organization.trustedOrgIds"}},
		{"bad member account", withOrg(func(o map[string]any) { o[OrgKeyMemberAccounts] = "444455556666,12" }), []string{"organization.memberAccounts"}},
		{"every key wrong at once", map[string]any{KeyOrganization: map[string]any{
			OrgKeyID: "x", OrgKeyHubAccount: "y", OrgKeyMemberOUs: "all", OrgKeyRootID: "z", OrgKeyDeployFrom: "w",
			OrgKeyTrustedOrgIDs: []any{"v"}, OrgKeyMemberAccounts: []any{"u"},
		}}, []string{"organization.organizationId", "organization.hubAccount", "organization.rootId", "organization.deployFrom",
			"organization.trustedOrgIds", "organization.memberAccounts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(getter(tt.ctx))
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			var keys []string
			for _, e := range flatten(err) {
				var se *Error
				if errors.As(e, &se) {
					keys = append(keys, se.Key)
					if !strings.Contains(se.Error(), `context "`+se.Key+`"`) {
						t.Errorf("message %q does not name the key", se.Error())
					}
				}
			}
			slices.Sort(keys)
			want := slices.Clone(tt.wantKeys)
			slices.Sort(want)
			if !slices.Equal(keys, want) {
				t.Errorf("error keys = %v, want %v (%v)", keys, want, err)
			}
		})
	}
}

// flatten returns the errors joined in err (one level of wrapping, then
// errors.Join).
func flatten(err error) []error {
	if u, ok := errors.Unwrap(err).(interface{ Unwrap() []error }); ok {
		return u.Unwrap()
	}
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		return u.Unwrap()
	}
	return []error{err}
}

func TestOrganizationEnv(t *testing.T) {
	o := &Organization{ID: "o-a1b2c3d4e5", HubAccount: "111122223333", Targets: []string{"r-ab12"}, CallAs: CallAsSelf}
	env := o.Env("IamRoleGuardrail-Member")
	if env[config.EnvMemberRoleName] != "IamRoleGuardrail-Member" || env[config.EnvMemberAccounts] != "" || env[config.EnvTrustedOrgIDs] != "" {
		t.Errorf("default env = %v: want the role name, no account list, no trusted-organization override", env)
	}
	o.TrustedOrgIDs = []string{"o-zzzzzzzzzz"}
	o.MemberAccounts = []string{"444455556666", "777788889999"}
	env = o.Env("IamRoleGuardrail-Member")
	if env[config.EnvMemberAccounts] != "444455556666,777788889999" || env[config.EnvTrustedOrgIDs] != "o-zzzzzzzzzz" {
		t.Errorf("env = %v", env)
	}
}
