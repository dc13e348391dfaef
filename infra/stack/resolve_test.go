package stack

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// The deployment a resolver plays: what CloudFormation fills in for the
// pseudo parameters.
const (
	testAccount   = "123456789012"
	testPartition = "aws"
	testRegion    = RequiredRegion
)

// resolver replaces the intrinsic functions of a synthesized template with
// the values CloudFormation would give them in testAccount, so that
// policies and patterns can be evaluated as deployed. It knows the
// resource types and attributes the stack uses (CloudFormation template
// reference, each type's "Return values"); anything else is a test error,
// never a silent guess.
type resolver struct {
	t         *testing.T
	resources map[string]any
}

func newResolver(t *testing.T, s synthesized) resolver {
	return resolver{t: t, resources: s.json["Resources"].(map[string]any)}
}

// physical returns the name CloudFormation gives a resource: its name
// property, or a generated one (lower case, valid for buckets).
func (r resolver) physical(id, nameProp string) string {
	res, ok := r.resources[id].(map[string]any)
	if !ok {
		r.t.Fatalf("template has no resource %q", id)
	}
	props, _ := res["Properties"].(map[string]any)
	if n, ok := props[nameProp].(string); ok && nameProp != "" {
		return n
	}
	return "stack-" + strings.ToLower(id)
}

func (r resolver) typeOf(id string) string {
	res, ok := r.resources[id].(map[string]any)
	if !ok {
		r.t.Fatalf("template has no resource %q", id)
	}
	return res["Type"].(string)
}

// keyID is a stand-in KMS key ID derived from the logical ID.
func keyID(id string) string {
	return fmt.Sprintf("%08x-0000-4000-8000-000000000000", len(id)*7919)
}

func (r resolver) ref(id string) string {
	switch id {
	case "AWS::AccountId":
		return testAccount
	case "AWS::Partition":
		return testPartition
	case "AWS::Region":
		return testRegion
	case "AWS::URLSuffix":
		return "amazonaws.com"
	}
	switch typ := r.typeOf(id); typ {
	case "AWS::IAM::ManagedPolicy":
		return r.getAtt(id, "PolicyArn")
	case "AWS::IAM::Role":
		return r.physical(id, "RoleName")
	case "AWS::S3::Bucket":
		return r.physical(id, "")
	case "AWS::KMS::Key":
		return keyID(id)
	case "AWS::SNS::Topic":
		return "arn:aws:sns:" + testRegion + ":" + testAccount + ":" + r.physical(id, "TopicName")
	case "AWS::Lambda::Function":
		return r.physical(id, "FunctionName")
	case "AWS::Logs::LogGroup":
		return r.physical(id, "LogGroupName")
	case "AWS::SQS::Queue":
		return "https://sqs." + testRegion + ".amazonaws.com/" + testAccount + "/" + r.physical(id, "QueueName")
	default:
		r.t.Fatalf("resolver: Ref of %s %s not modelled", typ, id)
		return ""
	}
}

func (r resolver) getAtt(id, attr string) string {
	typ := r.typeOf(id)
	switch typ + "." + attr {
	case "AWS::IAM::ManagedPolicy.PolicyArn":
		return "arn:aws:iam::" + testAccount + ":policy/" + r.physical(id, "ManagedPolicyName")
	case "AWS::IAM::Role.Arn":
		return "arn:aws:iam::" + testAccount + ":role/" + r.physical(id, "RoleName")
	case "AWS::KMS::Key.Arn":
		return "arn:aws:kms:" + testRegion + ":" + testAccount + ":key/" + keyID(id)
	case "AWS::S3::Bucket.Arn":
		return "arn:aws:s3:::" + r.physical(id, "")
	case "AWS::Logs::LogGroup.Arn":
		return "arn:aws:logs:" + testRegion + ":" + testAccount + ":log-group:" + r.physical(id, "LogGroupName") + ":*"
	case "AWS::SQS::Queue.Arn":
		return "arn:aws:sqs:" + testRegion + ":" + testAccount + ":" + r.physical(id, "QueueName")
	case "AWS::Lambda::Function.Arn":
		return "arn:aws:lambda:" + testRegion + ":" + testAccount + ":function:" + r.physical(id, "FunctionName")
	}
	r.t.Fatalf("resolver: Fn::GetAtt %s.%s (%s) not modelled", id, attr, typ)
	return ""
}

var subRe = regexp.MustCompile(`\$\{([A-Za-z0-9:]+)(?:\.([A-Za-z]+))?\}`)

// resolve returns v with every intrinsic function replaced by its value.
func (r resolver) resolve(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for fn, arg := range x {
				switch fn {
				case "Ref":
					return r.ref(arg.(string))
				case "Fn::GetAtt":
					a := arg.([]any)
					return r.getAtt(a[0].(string), a[1].(string))
				case "Fn::Join":
					a := arg.([]any)
					var parts []string
					for _, p := range a[1].([]any) {
						s, ok := r.resolve(p).(string)
						if !ok {
							r.t.Fatalf("resolver: Fn::Join part %v is not a string", p)
						}
						parts = append(parts, s)
					}
					return strings.Join(parts, a[0].(string))
				case "Fn::Sub":
					str, ok := arg.(string)
					if !ok {
						r.t.Fatalf("resolver: Fn::Sub with variables not modelled: %v", arg)
					}
					return subRe.ReplaceAllStringFunc(str, func(m string) string {
						g := subRe.FindStringSubmatch(m)
						if g[2] != "" {
							return r.getAtt(g[1], g[2])
						}
						return r.ref(g[1])
					})
				}
				if strings.HasPrefix(fn, "Fn::") {
					r.t.Fatalf("resolver: %s not modelled", fn)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = r.resolve(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.resolve(e)
		}
		return out
	}
	return v
}
