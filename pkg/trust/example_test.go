package trust_test

import (
	"fmt"

	"github.com/iamguardrail/guardrail/pkg/policy"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

var zone = trust.Zone{Account: "111122223333", TrustedAccounts: []string{"444455556666"}, TrustedOrgIDs: []string{"o-a1b2c3d4e5"}}

// A foreign account is stripped; the own account and the service stay.
func ExampleRestrict() {
	doc, err := policy.Parse([]byte(`{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Effect": "Allow",
	    "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::999988887777:root"]},
	    "Action": "sts:AssumeRole"
	  }]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := trust.Restrict(doc, zone)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Policy)
	for _, f := range res.Findings {
		fmt.Printf("removed=%v %s: %s\n", f.Removed, f.Principal, f.Reason)
	}
	// Output:
	// {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root"]},"Action":"sts:AssumeRole"}]}
	// removed=true AWS:arn:aws:iam::999988887777:root: account 999988887777 is neither this account nor a trusted one; neither a Condition nor a Deny statement confines it to trusted accounts or organizations
}

// "Principal": "*" stays when a condition confines it to the organization.
func ExampleRestrict_organization() {
	doc, _ := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}]}`))
	res, _ := trust.Restrict(doc, zone)
	fmt.Println(res.Changed, res.Principals[0].Reason)
	// Output:
	// false "Principal": "*" admits every principal, but the Condition StringEquals aws:PrincipalOrgID o-a1b2c3d4e5 confines it to trusted accounts or organizations
}

// A GitHub OIDC role without a subject condition admits every repository on
// GitHub; nothing trusted is left, so the policy denies everyone.
func ExampleRestrict_githubWithoutSubject() {
	doc, _ := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
	  "Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
	  "Action":"sts:AssumeRoleWithWebIdentity",
	  "Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}]}`))
	res, _ := trust.Restrict(doc, zone)
	fmt.Println(res.Policy)
	fmt.Println(res.RemovedExternal)
	// Output:
	// {"Version":"2012-10-17","Statement":[{"Sid":"GuardrailNoTrustedPrincipals","Effect":"Deny","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:AssumeRoleWithSAML","sts:AssumeRoleWithWebIdentity"]}]}
	// true
}

// A service principal is kept but flagged when nothing says on whose behalf
// the service may act.
func ExampleAnalyze() {
	doc, _ := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`))
	res, _ := trust.Analyze(doc, zone)
	p := res.Principals[0]
	fmt.Println(p.Kind, p.Trusted)
	fmt.Println(res.Findings[0].Removed, res.Findings[0].Reason)
	// Output:
	// service true
	// false no aws:SourceAccount, aws:SourceArn, aws:SourceOrgID or aws:SourceOrgPaths condition confines the service to this account (confused-deputy risk)
}

// A wildcard Allow stays when a Deny statement of the same policy refuses
// every principal outside the organization; the finding names that Deny.
func ExampleRestrict_denyOutsideOrganization() {
	doc, _ := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"},
	  {"Sid":"OnlyMyOrg","Effect":"Deny","Principal":"*","Action":"sts:AssumeRole",
	   "Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}]}`))
	res, _ := trust.Restrict(doc, zone)
	fmt.Println(res.Changed)
	fmt.Println(res.Findings[0].Reason)
	// Output:
	// false
	// kept only because Deny statement 1 ("OnlyMyOrg") with StringNotEqualsIfExists aws:PrincipalOrgID o-a1b2c3d4e5 refuses every principal outside trusted accounts and organizations; changing that statement opens the role
}
