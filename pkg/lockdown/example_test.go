package lockdown_test

import (
	"encoding/json"
	"fmt"

	"github.com/iamguardrail/guardrail/pkg/lockdown"
)

func ExampleDocument() {
	doc, err := lockdown.Document(lockdown.Config{
		Account:            "111122223333",
		ExtraDeniedActions: []string{"ram:CreateResourceShare", "ec2:CreateVpcPeeringConnection"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var policy struct {
		Statement []struct{ Sid string }
	}
	if err := json.Unmarshal(doc, &policy); err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range policy.Statement {
		fmt.Println(st.Sid)
	}
	fmt.Println(lockdown.Size(doc) <= lockdown.MaxSize)
	// Output:
	// ProtectGuardrailRuntime
	// ProtectGuardrailRoles
	// ProtectGuardrailStack
	// ProtectLockdownPolicy
	// ProtectLockdownAttachment
	// ProtectGuardrailMarker
	// DenyPermissionEscalation
	// ProtectAudit
	// DenyLongTermCredentials
	// DenyNewIdentityProviders
	// DenyIdentityTokens
	// DenyAccountChanges
	// DenyOrganizationChanges
	// OperatorDeniedActions
	// true
}

// Service roles may mint outbound identity tokens only for the audiences
// listed, and only when every audience of the request is listed.
func ExampleDocument_tokenAudiences() {
	doc, err := lockdown.Document(lockdown.Config{
		Account:               "111122223333",
		AllowedTokenAudiences: []string{"https://api.partner.example"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var policy struct {
		Statement []struct {
			Sid       string
			Action    []string
			Condition json.RawMessage
		}
	}
	if err := json.Unmarshal(doc, &policy); err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range policy.Statement {
		if st.Sid == "DenyUnlistedTokenAudiences" || st.Sid == "DenyTokensWithoutAudience" {
			fmt.Println(st.Sid, st.Action, string(st.Condition))
		}
	}
	// Output:
	// DenyUnlistedTokenAudiences [sts:GetWebIdentityToken] {"ForAnyValue:StringNotEquals":{"sts:IdentityTokenAudience":["https://api.partner.example"]}}
	// DenyTokensWithoutAudience [sts:GetWebIdentityToken] {"Null":{"sts:IdentityTokenAudience":"true"}}
}

func ExampleDocument_invalid() {
	_, err := lockdown.Document(lockdown.Config{Account: "111122223333", ExtraDeniedActions: []string{"*"}})
	fmt.Println(err)
	// Output:
	// lockdown ExtraDeniedActions "*": would deny every action of every service; name a service ("service:Action")
}
