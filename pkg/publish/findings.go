package publish

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
)

// ProductARN is a parsed Security Hub product ARN of a custom integration.
type ProductARN struct {
	ARN, Partition, Region, Account string
}

// ParseProductARN parses and checks
// arn:<partition>:securityhub:<region>:<account>:product/<account>/default,
// the product ARN under which an account imports its own findings
// (Security Hub user guide, "Using custom product integrations to send
// findings to AWS Security Hub"). Both account IDs must be the same.
func ParseProductARN(s string) (ProductARN, error) {
	m := productRe.FindStringSubmatch(s)
	if m == nil || m[3] != m[4] {
		return ProductARN{}, fmt.Errorf("%q is not the product ARN of an account's own findings (arn:<partition>:securityhub:<region>:<account>:product/<account>/default)", s)
	}
	return ProductARN{ARN: s, Partition: m[1], Region: m[2], Account: m[3]}, nil
}

// ASFF limits the findings respect (AWS Security Finding Format, attribute
// reference: Title up to 256 characters, Description up to 1,024,
// Remediation.Recommendation.Text up to 512; BatchImportFindings takes up
// to 100 findings per request).
const (
	maxTitle       = 256
	maxDescription = 1024
	maxRemediation = 512
	batchSize      = 100
	// schemaVersion is the only ASFF schema version.
	schemaVersion = "2018-10-08"
	// findingType is the ASFF type (namespace/category) of both controls.
	findingType = "Software and Configuration Checks/AWS Security Best Practices"
)

// FindingsAPI is the Security Hub call Findings makes;
// *securityhub.Client satisfies it.
type FindingsAPI interface {
	BatchImportFindings(ctx context.Context, in *securityhub.BatchImportFindingsInput, optFns ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error)
}

// Findings imports one AWS Security Finding Format finding per service
// role and control (trust, lockdown) with every evaluation of the role:
// FAILED and ACTIVE while the control finds something to change (check
// mode), PASSED once the role complies (it did, or the guardrail fixed it).
// The finding ID is derived from the role ARN and the control alone, so
// each import updates the one finding instead of adding another.
//
// Findings buffers and imports in batches of 100 (the API's maximum) on
// Flush or when a batch is full: a sweep of thousands of roles makes tens
// of calls, not thousands.
type Findings struct {
	client  FindingsAPI
	product ProductARN
	now     func() time.Time
	buf     []types.AwsSecurityFinding
}

// NewFindings returns a Findings publisher importing under product.
func NewFindings(client FindingsAPI, product ProductARN) *Findings {
	return &Findings{client: client, product: product, now: time.Now}
}

// Publish buffers rec's findings and imports a full batch.
func (f *Findings) Publish(ctx context.Context, rec decision.Record) error {
	f.buf = append(f.buf, BuildFindings(rec, f.product, f.now())...)
	if len(f.buf) >= batchSize {
		return f.Flush(ctx)
	}
	return nil
}

// Flush imports the buffered findings, in batches of up to 100. Findings
// Security Hub reports as failed make an error; the buffer is emptied
// either way (the next evaluation of the role imports them again).
func (f *Findings) Flush(ctx context.Context) error {
	var err error
	for len(f.buf) > 0 {
		n := min(len(f.buf), batchSize)
		batch := f.buf[:n]
		f.buf = f.buf[n:]
		out, e := f.client.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: batch})
		switch {
		case e != nil:
			err = fmt.Errorf("import %d findings: %w", n, e)
		case aws.ToInt32(out.FailedCount) > 0:
			first := ""
			if len(out.FailedFindings) > 0 {
				ff := out.FailedFindings[0]
				first = fmt.Sprintf(" (first: %s: %s %s)", aws.ToString(ff.Id), aws.ToString(ff.ErrorCode), aws.ToString(ff.ErrorMessage))
			}
			err = fmt.Errorf("import %d findings: %d failed%s", n, aws.ToInt32(out.FailedCount), first)
		}
	}
	f.buf = nil
	return err
}

// FindingID returns the stable ID of a role's finding for one control.
func FindingID(roleARN, control string) string {
	return Source + "/" + control + "/" + roleARN
}

// BuildFindings returns rec's findings: one per control that applies (not
// in skip mode) when rec is about a service role and says whether it
// complies (outcome compliant, changed or would-change). Records of roles
// the guardrail never touches, failed evaluations (the last finding stands
// until an evaluation succeeds), ignored events and gone roles have none.
// Findings of roles of another account are not imported either: an
// account may import findings under its default product ARN only for
// itself (BatchImportFindings: the calling account must be the finding's
// AwsAccountId).
func BuildFindings(rec decision.Record, p ProductARN, now time.Time) []types.AwsSecurityFinding {
	if rec.Class != "service" || rec.RoleARN == "" || rec.Account != p.Account {
		return nil
	}
	switch rec.Outcome {
	case decision.OutcomeCompliant, decision.OutcomeChanged, decision.OutcomeWouldChange:
	default:
		return nil
	}
	var out []types.AwsSecurityFinding
	for _, c := range []struct {
		control string
		mode    config.Mode
	}{{decision.ControlTrust, rec.Mode.Trust}, {decision.ControlLockdown, rec.Mode.Lockdown}} {
		if c.mode == config.Skip {
			continue
		}
		out = append(out, finding(rec, p, c.control, now))
	}
	return out
}

// finding builds one control's finding. A control fails while an action
// of it is only "would" (check mode); otherwise the role complies with it,
// possibly because the guardrail just fixed it.
//
// States (AWS Security Finding Format; Security Hub API reference,
// Workflow): failing, RecordState ACTIVE, Compliance FAILED, Workflow NEW;
// complying, Compliance PASSED, Workflow RESOLVED and RecordState
// ARCHIVED. BatchImportFindings does not let a provider change Workflow of
// an existing finding, so ARCHIVED is what retires a fixed finding; when
// the role fails again, RecordState ARCHIVED→ACTIVE and Compliance
// PASSED→FAILED make Security Hub reset the workflow to NEW itself.
func finding(rec decision.Record, p ProductARN, control string, now time.Time) types.AwsSecurityFinding {
	failing := false
	var removed []string
	for _, a := range rec.Actions {
		if a.Control == control && a.Result == decision.ResultWould {
			failing = true
		}
	}
	for _, f := range rec.Findings {
		if f.Control == control && f.Removed {
			removed = append(removed, f.Principal)
		}
	}
	ts := now.UTC().Format(time.RFC3339Nano)
	role := rec.RoleARN
	title, desc, fix, sev := "", "", "", types.SeverityLabelInformational
	switch control {
	case decision.ControlTrust:
		title = "IAM role trust policy admits untrusted principals: " + rec.RoleName
		fix = "Remove the untrusted principals from the trust policy (the guardrail does so in enforce mode), or, if they are trusted, add their accounts to trustedAccounts."
		switch {
		case failing:
			sev = types.SeverityLabelHigh
			desc = fmt.Sprintf("The trust policy of %s admits principals outside the trusted zone; in check mode the guardrail would remove: %s.", role, strings.Join(removed, ", "))
		case rec.Outcome == decision.OutcomeChanged && len(removed) > 0:
			desc = fmt.Sprintf("The guardrail removed untrusted principals from the trust policy of %s: %s. The undo commands are in ProductFields guardrail/undo/*.", role, strings.Join(removed, ", "))
		default:
			desc = fmt.Sprintf("The trust policy of %s admits only trusted principals.", role)
		}
	default:
		title = "IAM service role lacks the guardrail lockdown policy: " + rec.RoleName
		fix = "Attach the guardrail's lockdown policy to the role (the guardrail does so in enforce mode)."
		switch {
		case failing:
			sev = types.SeverityLabelMedium
			desc = fmt.Sprintf("%s does not carry the lockdown policy; in check mode the guardrail would attach it.", role)
		default:
			desc = fmt.Sprintf("%s carries the lockdown policy (%s).", role, rec.Lockdown)
		}
	}
	status, state, workflow := types.ComplianceStatusPassed, types.RecordStateArchived, types.WorkflowStatusResolved
	if failing {
		status, state, workflow = types.ComplianceStatusFailed, types.RecordStateActive, types.WorkflowStatusNew
	}
	fields := map[string]string{
		"guardrail/outcome":  string(rec.Outcome),
		"guardrail/event_id": rec.EventID,
		"guardrail/version":  rec.Version,
	}
	for i, u := range rec.Undo {
		if i >= 40 { // ProductFields holds at most 50 pairs
			break
		}
		fields["guardrail/undo/"+strconv.Itoa(i)] = clip(u, 2048)
	}
	if len(rec.Undo) > 0 {
		fix += " To undo the guardrail's change, set the role exempt first, then run the commands in ProductFields guardrail/undo/*."
	}
	return types.AwsSecurityFinding{
		SchemaVersion: aws.String(schemaVersion),
		Id:            aws.String(FindingID(role, control)),
		ProductArn:    aws.String(p.ARN),
		GeneratorId:   aws.String(Source + "/" + control),
		AwsAccountId:  aws.String(p.Account),
		Region:        aws.String(p.Region),
		Types:         []string{findingType},
		CreatedAt:     aws.String(ts),
		UpdatedAt:     aws.String(ts),
		Severity:      &types.Severity{Label: sev},
		// Security Hub ignores Severity and Types of an existing finding
		// from its provider; FindingProviderFields carries them on updates.
		FindingProviderFields: &types.FindingProviderFields{Severity: &types.FindingProviderSeverity{Label: sev}, Types: []string{findingType}},
		Title:                 aws.String(clip(title, maxTitle)),
		Description:           aws.String(clip(desc, maxDescription)),
		Remediation:           &types.Remediation{Recommendation: &types.Recommendation{Text: aws.String(clip(fix, maxRemediation))}},
		Resources: []types.Resource{{
			Type: aws.String("AwsIamRole"), Id: aws.String(role),
			Partition: types.Partition(p.Partition), Region: aws.String(p.Region),
		}},
		Compliance:    &types.Compliance{Status: status},
		RecordState:   state,
		Workflow:      &types.Workflow{Status: workflow},
		ProductFields: fields,
	}
}

// clip shortens s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
