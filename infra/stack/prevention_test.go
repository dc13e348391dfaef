package stack

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/iamguardrail/guardrail/infra/settings"
	"github.com/iamguardrail/guardrail/pkg/perimeter"
)

// TestPrevention: the prevention context. off (the default) adds nothing;
// check writes every rendered document into the cloud assembly and deploys
// nothing; enforce creates one AWS::Organizations::Policy per document, of
// the document's type, holding it (as a JSON object) and attached to exactly
// the organization's targets.
func TestPrevention(t *testing.T) {
	off := orgDefault(t)
	off.hub.template.ResourceCountIs(jsii.String("AWS::Organizations::Policy"), jsii.Number(0))

	for _, tc := range []struct {
		name    string
		org     map[string]any
		targets []string
	}{
		{"two OUs", testOrg, []string{"ou-ab12-cd34ef56", "ou-ab12-zz99yy88"}},
		{"all", map[string]any{"organizationId": testOrgID, "hubAccount": testHubAccount, "memberOUs": "all", "rootId": "r-ab12",
			"trustedOrgIds": []any{testOrgID, "o-zzzzzzzzzz"}}, []string{"r-ab12"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := maps(fullContext, map[string]any{settings.KeyPrevention: settings.PreventionEnforce})
			o := synthOrg(t, tc.org, extra)
			s := hubSettings(t, tc.org, extra)
			want, err := PreventionDocuments(s, settings.DefaultBootstrapQualifier)
			if err != nil {
				t.Fatal(err)
			}
			policies := o.hub.resources("AWS::Organizations::Policy")
			if len(policies) != len(want) {
				t.Fatalf("%d policies, want %d (one per rendered document)", len(policies), len(want))
			}
			types := map[string]int{}
			for _, d := range want {
				found := false
				for id, r := range policies {
					p := r["Properties"].(map[string]any)
					if p["Name"] != d.Name {
						continue
					}
					found = true
					if p["Type"] != d.Type {
						t.Errorf("%s: Type %v, want %s", id, p["Type"], d.Type)
					}
					var doc any
					if err := json.Unmarshal(d.Content, &doc); err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(p["Content"], doc) {
						t.Errorf("%s: Content differs from the rendered document", id)
					}
					var got []string
					for _, x := range p["TargetIds"].([]any) {
						got = append(got, x.(string))
					}
					if !slices.Equal(got, tc.targets) {
						t.Errorf("%s: TargetIds %v, want %v", id, got, tc.targets)
					}
					if len(d.Content) > perimeter.MaxSize {
						t.Errorf("%s: %d characters", id, len(d.Content))
					}
				}
				if !found {
					t.Errorf("no policy named %s", d.Name)
				}
				types[d.Type]++
			}
			if types[perimeter.TypeRCP] == 0 || types[perimeter.TypeSCP] == 0 {
				t.Errorf("policy types %v: want both an RCP and an SCP", types)
			}
			// The documents are the zone and lockdown of the members.
			joined := string(bytes.Join(func() [][]byte {
				var out [][]byte
				for _, d := range want {
					out = append(out, d.Content)
				}
				return out
			}(), nil))
			for _, must := range []string{`"aws:PrincipalOrgID":`, "sts:GetWebIdentityToken", "cdk-hnb659fds-deploy-role-" + testHubAccount + "-us-east-1",
				"arn:aws:iam::*:role/" + NamePrefix + "-*", "arn:aws:iam::" + testHubAccount + ":role/" + HubEnforcerName} {
				if !strings.Contains(joined, must) {
					t.Errorf("the documents do not hold %s", must)
				}
			}
			for _, org := range s.Organization.TrustedOrgIDs {
				if !strings.Contains(joined, org) {
					t.Errorf("the RCP does not trust %s", org)
				}
			}
		})
	}

	t.Run("check", func(t *testing.T) {
		extra := map[string]any{settings.KeyPrevention: settings.PreventionCheck}
		o := synthOrg(t, testOrg, extra)
		o.hub.template.ResourceCountIs(jsii.String("AWS::Organizations::Policy"), jsii.Number(0))
		want, err := PreventionDocuments(hubSettings(t, testOrg, extra), settings.DefaultBootstrapQualifier)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(*awscdk.Stage_Of(o.hub.stack).Outdir(), PreventionDir)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != len(want) {
			t.Errorf("%d files in %s, want %d", len(entries), dir, len(want))
		}
		for _, d := range want {
			got, err := os.ReadFile(filepath.Join(dir, d.Name+".json"))
			if err != nil || !bytes.Equal(got, d.Content) {
				t.Errorf("%s: %v; want the rendered document byte for byte", d.Name, err)
			}
		}
	})

	t.Run("needs organization mode", func(t *testing.T) {
		_, err := settings.Parse(func(k string) any {
			if k == settings.KeyPrevention {
				return settings.PreventionEnforce
			}
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), settings.KeyPrevention) {
			t.Errorf("prevention without an organization: %v, want an error naming %q", err, settings.KeyPrevention)
		}
		if _, err := settings.Parse(func(k string) any {
			if k == settings.KeyPrevention {
				return "on"
			}
			return nil
		}); err == nil {
			t.Error("prevention=on accepted")
		}
	})
}

// hubSettings parses the settings synthOrg builds the hub from.
func hubSettings(t *testing.T, org, extra map[string]any) settings.Settings {
	t.Helper()
	ctx := maps(extra, map[string]any{settings.KeyOrganization: org, settings.KeyDistDir: distDir(t)})
	s, err := settings.Parse(func(k string) any { return ctx[k] })
	if err != nil {
		t.Fatal(err)
	}
	return s
}
