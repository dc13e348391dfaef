//lint:file-ignore SA1019 the Go bindings have no other type for a stack artifact's messages than cxapi.SynthesisMessage.

package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
)

// findings returns the error and warning annotations of a synthesized
// stack (cdk-nag's findings among them), one line each. The CDK CLI fails
// `cdk synth` on such errors in the app's own stacks; the member template
// is synthesized inside the app, out of the CLI's sight, so MemberTemplate
// checks them itself.
func findings(art cxapi.CloudFormationStackArtifact) []string {
	var out []string
	for _, m := range *art.Messages() {
		if m.Level == cxapi.SynthesisMessageLevel_ERROR || m.Level == cxapi.SynthesisMessageLevel_WARNING {
			out = append(out, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
		}
	}
	return out
}
