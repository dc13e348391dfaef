package iamtest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
)

// BatchImportFindings accepts an account's findings under its own default
// product only from that account's credentials, and refuses the whole
// call otherwise, as Security Hub does.
func TestBatchImportFindings(t *testing.T) {
	ctx := context.Background()
	srv := NewServer(WithAccounts(mgmtAccount, acctA))
	defer srv.Close()
	finding := func(account string) shtypes.AwsSecurityFinding {
		return shtypes.AwsSecurityFinding{
			Id: aws.String("f-" + account), AwsAccountId: aws.String(account), SchemaVersion: aws.String("2018-10-08"),
			ProductArn:  aws.String("arn:aws:securityhub:us-east-1:" + account + ":product/" + account + "/default"),
			GeneratorId: aws.String("g"), Title: aws.String("t"), Description: aws.String("d"),
			CreatedAt: aws.String("2026-12-01T00:00:00Z"), UpdatedAt: aws.String("2026-12-01T00:00:00Z"),
			Resources: []shtypes.Resource{{Type: aws.String("AwsIamRole"), Id: aws.String("arn:aws:iam::" + account + ":role/r")}},
		}
	}
	member, err := assume(t, srv.Config(), "arn:aws:iam::"+acctA+":role/"+organizationAccessRole)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		cfg      aws.Config
		findings []shtypes.AwsSecurityFinding
		want     string // error code, "" for success
	}{
		{"own finding", srv.Config(), []shtypes.AwsSecurityFinding{finding(mgmtAccount)}, ""},
		{"a member's own finding", member, []shtypes.AwsSecurityFinding{finding(acctA)}, ""},
		{"another account's finding", srv.Config(), []shtypes.AwsSecurityFinding{finding(mgmtAccount), finding(acctA)}, "AccessDeniedException"},
		{"another region's product", member, func() []shtypes.AwsSecurityFinding {
			f := finding(acctA)
			f.ProductArn = aws.String("arn:aws:securityhub:eu-west-1:" + acctA + ":product/" + acctA + "/default")
			return []shtypes.AwsSecurityFinding{f}
		}(), "AccessDeniedException"},
		{"more than 100", member, func() []shtypes.AwsSecurityFinding {
			var fs []shtypes.AwsSecurityFinding
			for range 101 {
				fs = append(fs, finding(acctA))
			}
			return fs
		}(), "InvalidInputException"},
	} {
		out, err := securityhub.NewFromConfig(tc.cfg).BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: tc.findings})
		if errCode(err) != tc.want || (tc.want == "" && aws.ToInt32(out.SuccessCount) != int32(len(tc.findings))) {
			t.Errorf("%s: %+v, %v; want %q", tc.name, out, err, tc.want)
		}
	}
	got := srv.ImportedFindings()
	if len(got) != 2 || got[0].Caller != mgmtAccount || got[0].AwsAccountID != mgmtAccount || got[1].Caller != acctA || got[1].ID != "f-"+acctA {
		t.Errorf("imported %+v", got)
	}
}
