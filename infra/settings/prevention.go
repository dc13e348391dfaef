package settings

import (
	"fmt"

	"github.com/iamguardrail/guardrail/pkg/config"
)

// KeyPrevention is the context key of the organization policies (issue 18,
// README "Prevention"): what the hub stack does with the RCP and the
// lockdown SCPs that pkg/perimeter renders from the same settings as the
// functions.
const KeyPrevention = "prevention"

// The values of KeyPrevention, which reach the hub functions as
// config.EnvPrevention.
const (
	// PreventionOff (the default) renders nothing.
	PreventionOff = config.PreventionOff
	// PreventionCheck renders the documents into the cloud assembly
	// (cdk.out/perimeter/) for review and attaches nothing.
	PreventionCheck = config.PreventionCheck
	// PreventionEnforce creates the policies (AWS::Organizations::Policy)
	// attached to the organization's targets (organization.memberOUs),
	// and the hub's sweeper reports their drift.
	PreventionEnforce = config.PreventionEnforce
)

// validatePrevention accepts the three values; only organization mode has
// targets to attach the policies to, which Parse checks.
func validatePrevention(v string) error {
	switch v {
	case PreventionOff, PreventionCheck, PreventionEnforce:
		return nil
	}
	return fmt.Errorf("%q is not %q, %q or %q", v, PreventionOff, PreventionCheck, PreventionEnforce)
}
