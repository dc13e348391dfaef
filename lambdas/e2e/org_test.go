package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/lambdas/emulator"
	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/config"
)

// orgFunction runs a hub function's bootstrap under the emulator against
// the local organization, as the hub role role.
func orgFunction(t *testing.T, fn, role string, dep sandbox.OrgDeployment) (*emulator.Function, *output) {
	t.Helper()
	rieBin := rie(t)
	bin := buildBootstrap(t, fn)
	env, err := dep.Environ(role)
	if err != nil {
		t.Fatal(err)
	}
	out := &output{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := emulator.Start(ctx, emulator.Options{RIE: rieBin, Bootstrap: bin, Name: sandbox.NamePrefix + "-" + fn,
		Env: env, Timeout: 60 * time.Second, Stdout: out, Stderr: out})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, out
}

// invoke delivers ev and returns the newest record and the function error.
func invokeOrg(t *testing.T, f *emulator.Function, out *output, ev events.CloudWatchEvent) (map[string]any, error) {
	t.Helper()
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n := len(out.decisions())
	_, err = f.Invoke(ctx, body)
	var fe *emulator.FunctionError
	if err != nil && !errors.As(err, &fe) {
		t.Fatalf("invoke: %v", err)
	}
	return out.after(t, n), err
}

// TestOrganizationEnforcer is issue 12's acceptance under the emulator: a
// foreign principal added to a role in member account B is stripped within
// one event, the record naming B; the hub's own session's event in B does
// not trigger it again; an event from an account the hub cannot assume into
// ends as an error record naming it, and the rest of the organization is
// unaffected.
func TestOrganizationEnforcer(t *testing.T) {
	srv, dep := sandbox.StartOrg(t, config.Enforce)
	f, out := orgFunction(t, "enforcer", sandbox.EnforcerRole, dep)
	ctx := context.Background()
	a, b := sandbox.Members[0], sandbox.Members[1]
	admin := map[string]*iam.Client{}
	for _, m := range []string{a, b} {
		c, err := dep.Admin(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		admin[m] = c
		if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"),
			AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
			t.Fatal(err)
		}
	}
	foreign := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`
	trustIn := func(m string) string {
		out, err := admin[m].GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
		return doc
	}

	// 1. The owner in B adds a foreign principal; one event strips it.
	if _, err := admin[b].UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app"), PolicyDocument: aws.String(foreign)}); err != nil {
		t.Fatal(err)
	}
	rec, err := invokeOrg(t, f, out, sandbox.OrgEvent("e2e-org-1", b, "UpdateAssumeRolePolicy", "app", foreign, "arn:aws:iam::"+b+":role/OrganizationAccountAccessRole"))
	if err != nil {
		t.Fatalf("function error: %v\n%s", err, out.String())
	}
	if rec["account"] != b || rec["outcome"] != "changed" || rec["role_arn"] != "arn:aws:iam::"+b+":role/app" {
		t.Fatalf("record account %v outcome %v role %v, want B's role changed:\n%v", rec["account"], rec["outcome"], rec["role_arn"], rec)
	}
	if strings.Contains(trustIn(b), "999988887777") {
		t.Fatal("the foreign principal is still trusted in B")
	}

	// 2. The hub's write in B is made by its member-role session: that
	// event is ignored, nothing is written.
	writes := srv.WriteCalls()
	rec, err = invokeOrg(t, f, out, sandbox.OrgEvent("e2e-org-2", b, "UpdateAssumeRolePolicy", "app", trustIn(b), dep.Config.MemberRoleARN(b)))
	if err != nil || rec["outcome"] != "ignored" || !strings.Contains(str(rec["reason"]), "member role") {
		t.Fatalf("the hub's own event: record %v, err %v; want ignored", rec, err)
	}
	if srv.WriteCalls() != writes {
		t.Error("the hub's own event caused writes")
	}

	// 3. An account of the organization without the member stack: an
	// error record naming it, a function error (Lambda retries).
	rec, err = invokeOrg(t, f, out, sandbox.OrgEvent("e2e-org-3", sandbox.Undeployed, "UpdateAssumeRolePolicy", "app", foreign, ""))
	if err == nil || rec["outcome"] != "error" || rec["account"] != sandbox.Undeployed || !strings.Contains(str(rec["error"]), sandbox.Undeployed) ||
		!strings.Contains(str(rec["error"]), "AccessDenied") {
		t.Fatalf("undeployed account: record %v, err %v; want an error record naming %s and the reason", rec, err, sandbox.Undeployed)
	}

	// 4. The rest of the organization is unaffected: A still works, and an
	// account outside the organization is ignored.
	if _, err := admin[a].UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app"), PolicyDocument: aws.String(foreign)}); err != nil {
		t.Fatal(err)
	}
	rec, err = invokeOrg(t, f, out, sandbox.OrgEvent("e2e-org-4", a, "UpdateAssumeRolePolicy", "app", foreign, ""))
	if err != nil || rec["account"] != a || rec["outcome"] != "changed" || strings.Contains(trustIn(a), "999988887777") {
		t.Fatalf("member A after the failure: record %v, err %v", rec, err)
	}
	rec, err = invokeOrg(t, f, out, sandbox.OrgEvent("e2e-org-5", "777766665555", "UpdateAssumeRolePolicy", "app", foreign, ""))
	if err != nil || rec["outcome"] != "ignored" || !strings.Contains(str(rec["reason"]), "not in organization") {
		t.Fatalf("outside the organization: record %v, err %v; want ignored", rec, err)
	}
}

// TestOrganizationSweeper runs the hub's sweeper bootstrap over the local
// organization: one summary per member account and one for the run, the
// account without the member stack failing alone.
func TestOrganizationSweeper(t *testing.T) {
	_, dep := sandbox.StartOrg(t, config.Enforce)
	ctx := context.Background()
	for _, m := range sandbox.Members {
		c, err := dep.Admin(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("vendor"),
			AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
			t.Fatal(err)
		}
	}
	f, out := orgFunction(t, "sweeper", sandbox.SweeperRole, dep)
	schedule := events.CloudWatchEvent{Version: "0", ID: "e2e-org-sweep", DetailType: "Scheduled Event", Source: "aws.events",
		AccountID: sandbox.Account, Time: time.Now().UTC(), Region: "us-east-1", Detail: json.RawMessage(`{}`)}
	_, err := invokeOrg(t, f, out, schedule)
	if err == nil || !strings.Contains(err.Error(), "could not be swept") {
		t.Errorf("function error %v, want the incomplete sweep reported", err)
	}
	sum := out.wait(t, func(m map[string]any) bool { return m["msg"] == "sweep summary" })
	if sum["accounts_listed"] != float64(4) || sum["accounts_swept"] != float64(3) || sum["accounts_failed"] != float64(1) || sum["changed"] != float64(3) {
		t.Errorf("run summary %v", sum)
	}
	perAccount := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "sweep account summary" {
			perAccount[str(m["account"])] = str(m["outcome"])
		}
	}
	want := map[string]string{sandbox.Members[0]: "swept", sandbox.Members[1]: "swept", sandbox.Members[2]: "swept", sandbox.Undeployed: "error"}
	for k, v := range want {
		if perAccount[k] != v {
			t.Errorf("account summaries %v, want %v", perAccount, want)
			break
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
