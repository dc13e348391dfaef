// Command infra is the guardrail's CDK app (cdk.json runs `go run ./infra`):
// it reads the cdk.json context, validates it, builds the IamRoleGuardrail
// stack with cdk-nag's AWS Solutions checks applied, and synthesizes it.
// With the "organization" context it also builds IamRoleGuardrailHub and
// IamRoleGuardrailMembers (README, Organization). Any invalid setting stops
// synthesis with a message naming the context key.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/iamguardrail/guardrail/infra/stack"
)

func main() {
	err := run()
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "guardrail stack:", err)
		os.Exit(1)
	}
}

func run() error {
	app := awscdk.NewApp(nil)
	s, err := stack.ContextSettings(app)
	if err != nil {
		return err
	}
	// The CDK CLI sets CDK_DEFAULT_REGION and CDK_DEFAULT_ACCOUNT from the
	// selected profile or AWS_REGION. Without them (offline synth) the
	// stack targets us-east-1 in whatever account deploys it.
	region := os.Getenv("CDK_DEFAULT_REGION")
	if region == "" {
		region = stack.RequiredRegion
	}
	props := stack.Props{Settings: s, Region: region, Account: os.Getenv("CDK_DEFAULT_ACCOUNT")}
	if _, err := stack.New(app, props); err != nil {
		return err
	}
	if s.Organization != nil {
		// The hub pins its own account (organization.hubAccount); the
		// StackSet deploys from whichever account runs `cdk deploy`.
		if _, err := stack.NewHub(app, props); err != nil {
			return err
		}
		if _, err := stack.NewMembers(app, stack.MembersProps{Props: props}); err != nil {
			return err
		}
	}
	stack.AddChecks(app)
	app.Synth(nil)
	return nil
}
