package classify

import (
	"regexp"
	"strings"
	"testing"
)

const acct = "111122223333"

func roleARN(pathAndName string) string { return "arn:aws:iam::" + acct + ":role/" + pathAndName }

var rules = Rules{
	ProtectedRoleARNs: []string{
		roleARN("IamRoleGuardrail-*"),
		roleARN("ops/GuardrailSweeper"),
	},
	ExemptRoles: []string{"ci-*", "OrganizationAccountAccessRole", "/breakglass/*", "/teams/*/legacy/", "bad[glob"},
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name       string
		role       Role
		wantClass  Class
		wantReason string // substring
	}{
		{"service-linked role by path",
			Role{Name: "AWSServiceRoleForECS", Path: "/aws-service-role/ecs.amazonaws.com/", ARN: roleARN("aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS")},
			AWSManaged, `path "/aws-service-role/ecs.amazonaws.com/" is reserved for service-linked roles`},
		{"identity center role by path",
			Role{Name: "AWSReservedSSO_Admin_0123456789abcdef", Path: "/aws-reserved/sso.amazonaws.com/eu-west-1/"},
			AWSManaged, `reserved for roles AWS manages`},
		{"service-linked role from ARN only",
			Role{ARN: roleARN("aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport")},
			AWSManaged, `service-linked`},
		{"aws-managed beats protected and exempt",
			Role{ARN: roleARN("aws-service-role/ci.amazonaws.com/ci-x")},
			AWSManaged, `service-linked`},
		{"imitation of service-linked name on custom path",
			Role{Name: "AWSServiceRoleForBackdoor", Path: "/", ARN: roleARN("AWSServiceRoleForBackdoor")},
			Service, `name starts with "AWSServiceRoleFor" like an AWS-managed role, but path "/" is not reserved`},
		{"imitation of SSO name",
			Role{Name: "AWSReservedSSO_Evil"},
			Service, `AWSReservedSSO_`},
		{"path that only contains a reserved segment",
			Role{ARN: roleARN("x/aws-service-role/Thing")},
			Service, `no protection or exemption`},
		{"guardrail by pattern",
			Role{Name: "IamRoleGuardrail-Enforcer", Path: "/", ARN: roleARN("IamRoleGuardrail-Enforcer")},
			Guardrail, `matches protected guardrail role pattern "arn:aws:iam::111122223333:role/IamRoleGuardrail-*"`},
		{"guardrail by exact ARN with path",
			Role{ARN: roleARN("ops/GuardrailSweeper")},
			Guardrail, `is the protected guardrail role`},
		{"guardrail beats exempt",
			Role{ARN: roleARN("IamRoleGuardrail-ci-runner")},
			Guardrail, `pattern`},
		{"guardrail pattern is case-sensitive",
			Role{ARN: roleARN("iamroleguardrail-Enforcer")},
			Service, `no protection`},
		{"guardrail pattern in another account does not match",
			Role{ARN: "arn:aws:iam::999988887777:role/IamRoleGuardrail-Enforcer"},
			Service, `no protection`},
		{"exact protected ARN does not match a different path",
			Role{ARN: roleARN("GuardrailSweeper")},
			Service, `no protection`},
		{"protected needs an ARN",
			Role{Name: "IamRoleGuardrail-Enforcer", Path: "/"},
			Service, `no protection`},
		{"exempt by name glob",
			Role{ARN: roleARN("ci-deploy")},
			Exempt, `name matches exemption glob "ci-*"`},
		{"exempt by name glob regardless of path",
			Role{ARN: roleARN("build/ci-deploy")},
			Exempt, `"ci-*"`},
		{"exempt by exact name",
			Role{Name: "OrganizationAccountAccessRole"},
			Exempt, `"OrganizationAccountAccessRole"`},
		{"name glob is case-sensitive",
			Role{Name: "CI-deploy"},
			Service, `no protection`},
		{"exempt by path glob",
			Role{ARN: roleARN("breakglass/Admin")},
			Exempt, `path "/breakglass/" matches exemption glob "/breakglass/*"`},
		{"path glob does not reach deeper paths",
			Role{ARN: roleARN("breakglass/nested/Admin")},
			Service, `no protection`},
		{"path glob with inner wildcard",
			Role{ARN: roleARN("teams/payments/legacy/old")},
			Exempt, `"/teams/*/legacy/"`},
		{"path glob does not match names",
			Role{Name: "breakglass", Path: "/"},
			Service, `no protection`},
		{"name glob does not match path",
			Role{ARN: roleARN("ci-tools/deployer")},
			Service, `no protection`},
		{"malformed glob never matches",
			Role{Name: "bad[glob"},
			Service, `no protection`},
		{"plain service role",
			Role{Name: "orders-api", Path: "/", ARN: roleARN("orders-api")},
			Service, `custom role: no protection or exemption applies`},
		{"default path when none given",
			Role{Name: "orders-api"},
			Service, `no protection`},
		{"other partition",
			Role{ARN: "arn:aws-cn:iam::" + acct + ":role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX"},
			AWSManaged, `service-linked`},

		// Incomplete or contradictory input is governed, never waved through.
		{"name disagrees with ARN",
			Role{Name: "ci-deploy", ARN: roleARN("orders-api")},
			Service, `disagree with ARN`},
		{"path disagrees with ARN",
			Role{Name: "x", Path: "/aws-service-role/", ARN: roleARN("x")},
			Service, `disagree with ARN`},
		{"name in other case than ARN: ARN spelling decides",
			Role{Name: "CI-DEPLOY", Path: "/", ARN: roleARN("ci-deploy")},
			Exempt, `"ci-*"`},
		{"ARN of a user",
			Role{Name: "ci-deploy", ARN: "arn:aws:iam::" + acct + ":user/ci-deploy"},
			Service, `is not a role ARN`},
		{"assumed-role ARN",
			Role{ARN: "arn:aws:sts::" + acct + ":assumed-role/ci-deploy/session"},
			Service, `is not a role ARN`},
		{"ARN without name",
			Role{ARN: roleARN("breakglass/")},
			Service, `is not a role ARN`},
		{"nothing at all",
			Role{},
			Service, `role has no name`},
		{"path without slashes",
			Role{Name: "ci-deploy", Path: "breakglass"},
			Service, `does not begin and end with '/'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Classify(tt.role, rules)
			if got.Class != tt.wantClass || !strings.Contains(got.Reason, tt.wantReason) {
				t.Errorf("Classify(%+v) = %+v, want class %s with reason containing %q", tt.role, got, tt.wantClass, tt.wantReason)
			}
		})
	}
}

func TestClassifyNoRules(t *testing.T) {
	if got := Classify(Role{ARN: roleARN("IamRoleGuardrail-Enforcer")}, Rules{}); got.Class != Service {
		t.Errorf("without rules got %+v, want service", got)
	}
}

func TestSplitRoleARN(t *testing.T) {
	tests := []struct {
		arn, name, path string
		ok              bool
	}{
		{roleARN("a"), "a", "/", true},
		{roleARN("p/q/a"), "a", "/p/q/", true},
		{"arn:aws-us-gov:iam::" + acct + ":role/service-role/a", "a", "/service-role/", true},
		{roleARN(""), "", "", false},
		{roleARN("p/"), "", "", false},
		{"arn:aws:iam::" + acct + ":policy/a", "", "", false},
		{"arn:aws:iam:us-east-1:" + acct + ":role/a", "", "", false},
		{"arn:aws:iam:::role/a", "", "", false},
		{"arn::iam::" + acct + ":role/a", "", "", false},
		{"role/a", "", "", false},
	}
	for _, tt := range tests {
		name, p, ok := splitRoleARN(tt.arn)
		if name != tt.name || p != tt.path || ok != tt.ok {
			t.Errorf("splitRoleARN(%q) = %q, %q, %t; want %q, %q, %t", tt.arn, name, p, ok, tt.name, tt.path, tt.ok)
		}
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"*", "", true},
		{"*", "anything/at:all", true},
		{"a*", "a/b/c", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"abc", "abcd", false},
		{"abc*", "ab", false},
		{"*x", "yyyyyx", true},
		{"**", "z", true},
		{"A*", "a", false},
		{"a0*", "a0*0", true}, // found by FuzzWildcardMatch
		{"a*", "a*", true},
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %t, want %t", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// FuzzWildcardMatch checks wildcardMatch against a regular-expression
// translation of the same pattern, on ASCII input (role ARNs are ASCII).
func FuzzWildcardMatch(f *testing.F) {
	f.Add("arn:aws:iam::1:role/G-*", "arn:aws:iam::1:role/G-x/y")
	f.Add("a*?b", "aXb")
	f.Add("*a*a*a*a*b", strings.Repeat("a", 40))
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 64 || len(s) > 64 || !ascii(pattern) || !ascii(s) {
			return
		}
		var re strings.Builder
		re.WriteString(`(?s)^`)
		for _, c := range pattern {
			switch c {
			case '*':
				re.WriteString(`.*`)
			case '?':
				re.WriteString(`.`)
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString(`$`)
		want := regexp.MustCompile(re.String()).MatchString(s)
		if got := wildcardMatch(pattern, s); got != want {
			t.Errorf("wildcardMatch(%q, %q) = %t, regexp says %t", pattern, s, got, want)
		}
	})
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func BenchmarkClassify(b *testing.B) {
	r := Role{ARN: roleARN("teams/payments/orders-api")}
	for b.Loop() {
		Classify(r, rules)
	}
}
