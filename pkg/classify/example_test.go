package classify_test

import (
	"fmt"

	"github.com/iamguardrail/guardrail/pkg/classify"
)

func ExampleClassify() {
	rules := classify.Rules{
		ProtectedRoleARNs: []string{"arn:aws:iam::111122223333:role/IamRoleGuardrail-*"},
		ExemptRoles:       []string{"ci-*", "/breakglass/*"},
	}
	for _, arn := range []string{
		"arn:aws:iam::111122223333:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
		"arn:aws:iam::111122223333:role/IamRoleGuardrail-Enforcer",
		"arn:aws:iam::111122223333:role/ci-deploy",
		"arn:aws:iam::111122223333:role/breakglass/Admin",
		"arn:aws:iam::111122223333:role/orders-api",
	} {
		r := classify.Classify(classify.Role{ARN: arn}, rules)
		fmt.Printf("%-11s %s\n", r.Class, r.Reason)
	}
	// Output:
	// aws-managed path "/aws-service-role/ecs.amazonaws.com/" is reserved for service-linked roles
	// guardrail   ARN matches protected guardrail role pattern "arn:aws:iam::111122223333:role/IamRoleGuardrail-*"
	// exempt      name matches exemption glob "ci-*"
	// exempt      path "/breakglass/" matches exemption glob "/breakglass/*"
	// service     custom role: no protection or exemption applies
}
