package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// AddChecks applies cdk-nag's AWS Solutions rules to scope. Findings become
// error annotations: the CDK CLI then fails `cdk synth`, and the tests fail
// on any that is not suppressed below with a written reason.
func AddChecks(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

func suppression(id, reason string, appliesTo ...string) *cdknag.NagPackSuppression {
	s := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		a := make([]any, len(appliesTo))
		for i, v := range appliesTo {
			a[i] = v
		}
		s.AppliesTo = &a
	}
	return s
}

// suppress records, next to each resource, why a remaining AWS Solutions
// finding does not apply. Each suppression is as narrow as cdk-nag allows:
// one rule, one resource, and for wildcard findings the exact resource.
func suppress(b *builder) {
	st := b.stack
	for _, id := range []string{"EnforcerRole", "SweeperRole"} {
		suppressEngineRole(st.Node().FindChild(jsii.String(id)), id == "SweeperRole")
	}
	suppressQueues(b)
	if b.s.CreateTrail {
		cdknag.NagSuppressions_AddResourceSuppressions(st.Node().FindChild(jsii.String("TrailBucket")), &[]*cdknag.NagPackSuppression{
			suppression("AwsSolutions-S1",
				"The bucket only receives CloudTrail log files written by the CloudTrail service; access logging it would need a second bucket, "+
					"and the trail records every management API call on it"),
		}, jsii.Bool(true))
	}
}

// suppressEngineRole records why a role holding engineStatements (with the
// sweeper's listing when sweep is set) has wildcard resources.
func suppressEngineRole(role constructs.IConstruct, sweep bool) {
	sup := []*cdknag.NagPackSuppression{
		suppression("AwsSolutions-IAM5",
			"Any custom role in the account may be a service role the guardrail must read and correct; "+
				"AttachRolePolicy is limited to the lockdown policy by iam:PolicyARN, PutRolePolicy has no condition key for the policy name, "+
				"and an explicit Deny keeps every write off the guardrail's own, service-linked and AWS-reserved roles",
			"Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*"),
	}
	if sweep {
		sup = append(sup, suppression("AwsSolutions-IAM5",
			"iam:GetAccountAuthorizationDetails supports no resource-level permissions (Service Authorization Reference); it is read-only",
			"Resource::*"))
	}
	cdknag.NagSuppressions_AddResourceSuppressions(role, &sup, jsii.Bool(true))
}

// suppressQueues records why the dead-letter queues have no queue of their own.
func suppressQueues(b *builder) {
	st := b.stack
	for _, id := range []string{"EventDeliveryDLQ", "FailedInvocationsQueue"} {
		cdknag.NagSuppressions_AddResourceSuppressions(st.Node().FindChild(jsii.String(id)), &[]*cdknag.NagPackSuppression{
			suppression("AwsSolutions-SQS3",
				"This queue is itself the end of the line (EventBridge dead-letter queue or Lambda on-failure destination); an alarm fires on its first message"),
		}, jsii.Bool(true))
	}
}
