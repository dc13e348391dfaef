// Package replay makes the IAM call that a CloudTrail record describes,
// against any IAM endpoint. Local runs (the demo, the end-to-end tests) use
// it to reproduce the change an event reports before delivering the event,
// so the enforcer sees the same account state it would see in AWS.
package replay

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamguardrail/guardrail/pkg/cloudtrail"
)

// record is the part of a CloudTrail record replaying reads.
type record struct {
	EventSource       string          `json:"eventSource"`
	EventName         string          `json:"eventName"`
	ErrorCode         string          `json:"errorCode"`
	RequestParameters json.RawMessage `json:"requestParameters"`
}

// params are the request parameters of the replayed calls, named as
// CloudTrail records them (the API parameter names in lowerCamelCase).
type params struct {
	RoleName                 string          `json:"roleName"`
	Path                     string          `json:"path"`
	Description              *string         `json:"description"`
	MaxSessionDuration       *int32          `json:"maxSessionDuration"`
	AssumeRolePolicyDocument json.RawMessage `json:"assumeRolePolicyDocument"`
	PolicyDocument           json.RawMessage `json:"policyDocument"`
	PolicyArn                string          `json:"policyArn"`
	PolicyName               string          `json:"policyName"`
	PermissionsBoundary      string          `json:"permissionsBoundary"`
	AWSServiceName           string          `json:"aWSServiceName"`
	Tags                     []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"tags"`
}

// Apply makes the call the event's CloudTrail record describes. It reports
// false, and calls nothing, for events that describe no successful IAM call
// it can replay (another source, a failed call, another API).
func Apply(ctx context.Context, client *iam.Client, ev events.CloudWatchEvent) (bool, error) {
	var rec record
	if err := json.Unmarshal(ev.Detail, &rec); err != nil {
		return false, fmt.Errorf("replay: decode record: %w", err)
	}
	if ev.Source != cloudtrail.Source || rec.EventSource != cloudtrail.EventSource || rec.ErrorCode != "" {
		return false, nil
	}
	var p params
	if len(rec.RequestParameters) > 0 {
		if err := json.Unmarshal(rec.RequestParameters, &p); err != nil {
			return false, fmt.Errorf("replay %s: decode requestParameters: %w", rec.EventName, err)
		}
	}
	role := aws.String(p.RoleName)
	var err error
	switch rec.EventName {
	case "CreateRole":
		in := &iam.CreateRoleInput{RoleName: role, AssumeRolePolicyDocument: aws.String(document(p.AssumeRolePolicyDocument)),
			Description: p.Description, MaxSessionDuration: p.MaxSessionDuration}
		if p.Path != "" {
			in.Path = aws.String(p.Path)
		}
		if p.PermissionsBoundary != "" {
			in.PermissionsBoundary = aws.String(p.PermissionsBoundary)
		}
		for _, t := range p.Tags {
			in.Tags = append(in.Tags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
		}
		_, err = client.CreateRole(ctx, in)
	case "UpdateAssumeRolePolicy":
		_, err = client.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: role, PolicyDocument: aws.String(document(p.PolicyDocument))})
	case "AttachRolePolicy":
		_, err = client.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: role, PolicyArn: aws.String(p.PolicyArn)})
	case "DetachRolePolicy":
		_, err = client.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: role, PolicyArn: aws.String(p.PolicyArn)})
	case "PutRolePolicy":
		_, err = client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: role, PolicyName: aws.String(p.PolicyName), PolicyDocument: aws.String(document(p.PolicyDocument))})
	case "DeleteRolePolicy":
		_, err = client.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: role, PolicyName: aws.String(p.PolicyName)})
	case "PutRolePermissionsBoundary":
		_, err = client.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: role, PermissionsBoundary: aws.String(p.PermissionsBoundary)})
	case "DeleteRolePermissionsBoundary":
		_, err = client.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: role})
	case "UpdateRole":
		_, err = client.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: role, Description: p.Description, MaxSessionDuration: p.MaxSessionDuration})
	case "CreateServiceLinkedRole":
		_, err = client.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String(p.AWSServiceName)})
	case "TagRole":
		in := &iam.TagRoleInput{RoleName: role}
		for _, t := range p.Tags {
			in.Tags = append(in.Tags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
		}
		_, err = client.TagRole(ctx, in)
	default:
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("replay %s on role %q: %w", rec.EventName, p.RoleName, err)
	}
	return true, nil
}

// document returns a policy parameter as the text the call submitted:
// CloudTrail records it as a JSON string; an object is used as written.
func document(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}
