package iamtest

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

func TestParseFaults(t *testing.T) {
	tests := []struct {
		name    string
		rate    float64
		codes   string
		want    Faults
		wantErr bool
	}{
		{name: "rate shared by the listed codes", rate: 0.3, codes: "Throttling,ServiceFailure,ServiceUnavailable",
			want: Faults{ThrottleRate: 0.1, ServerErrorRate: 0.1, UnavailableRate: 0.1}},
		{name: "no codes means throttling", rate: 0.2, want: Faults{ThrottleRate: 0.2}},
		{name: "own rates", codes: "Throttling=0.3,ServiceFailure=0.05",
			want: Faults{ThrottleRate: 0.3, ServerErrorRate: 0.05}},
		{name: "own rate and shared rest", rate: 0.1, codes: "Throttling=0.3, ServiceUnavailable",
			want: Faults{ThrottleRate: 0.3, UnavailableRate: 0.1}},
		{name: "no faults", want: Faults{}},
		{name: "unknown code", rate: 0.1, codes: "AccessDenied", wantErr: true},
		{name: "rate above 1", rate: 1.5, wantErr: true},
		{name: "sum above 1", codes: "Throttling=0.8,ServiceFailure=0.3", wantErr: true},
		{name: "bad own rate", codes: "Throttling=lots", wantErr: true},
		{name: "rate with nobody to share it", rate: 0.2, codes: "Throttling=0.1", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFaults(tc.rate, tc.codes, 20*time.Millisecond, 9)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseFaults = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Latency, tc.want.Seed = 20*time.Millisecond, 9
			near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
			if !near(got.ThrottleRate, tc.want.ThrottleRate) || !near(got.ServerErrorRate, tc.want.ServerErrorRate) ||
				!near(got.UnavailableRate, tc.want.UnavailableRate) || got.Latency != tc.want.Latency || got.Seed != tc.want.Seed {
				t.Errorf("ParseFaults = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestWithFaultsAndCaller(t *testing.T) {
	srv, c := newTestServer(t, WithFaults(Faults{Action: "GetRole", ThrottleRate: 1, Seed: 1}))
	if _, err := srv.SeedRole(Role{Name: "app", TrustPolicy: lambdaTrust}); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String("app")}, noBackoff)
	if code, status := apiCode(err); code != codeThrottling || status != 400 {
		t.Fatalf("GetRole error = %v (%s, %d), want Throttling 400", err, code, status)
	}
	log := srv.CallLog()
	if len(log) == 0 || log[0].Caller != staticAccessKeyID || !log[0].Injected {
		t.Errorf("call log = %+v, want injected calls signed by %s", log, staticAccessKeyID)
	}
}

// TestStaleModes checks issue 19's two modes: in independent mode each read
// API serves the pre-write state to its own next N reads; in coherent mode
// the N stale reads are shared by every API.
func TestStaleModes(t *testing.T) {
	ctx := context.Background()
	attached := func(t *testing.T, c *iam.Client) int {
		t.Helper()
		out, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("app")})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.AttachedPolicies)
	}
	getRole := func(t *testing.T, c *iam.Client) string {
		t.Helper()
		_, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
		code, _ := apiCode(err)
		if err != nil && code != codeNoSuchEntity {
			t.Fatal(err)
		}
		if code != "" {
			return code
		}
		return "found"
	}
	for _, tc := range []struct {
		mode StaleMode
		// after CreateRole + AttachRolePolicy (window prev: no policy), with
		// N=2: GetRole, ListAttached, ListAttached, GetRole, ListAttached
		wantGet      []string
		wantAttached []int
	}{
		{mode: StaleIndependent, wantGet: []string{"found", "found"}, wantAttached: []int{0, 0, 1}},
		{mode: StaleCoherent, wantGet: []string{"found", "found"}, wantAttached: []int{0, 1, 1}},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			srv, c := newTestServer(t, WithStaleMode(tc.mode))
			mustCreateRole(t, c, "app", lambdaTrust)
			srv.SetStaleReads("", 2)
			if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: aws.String(readOnlyARN)}); err != nil {
				t.Fatal(err)
			}
			// GetRole uses one stale read; in coherent mode that leaves one for ListAttached.
			g1 := getRole(t, c)
			a := []int{attached(t, c), attached(t, c)}
			g2 := getRole(t, c)
			a = append(a, attached(t, c))
			if g1 != tc.wantGet[0] || g2 != tc.wantGet[1] {
				t.Errorf("GetRole = %s, %s, want %v", g1, g2, tc.wantGet)
			}
			for i := range a {
				if a[i] != tc.wantAttached[i] {
					t.Errorf("ListAttachedRolePolicies sizes = %v, want %v", a, tc.wantAttached)
					break
				}
			}
		})
	}

	t.Run("independent: NoSuchEntity after CreateRole per API", func(t *testing.T) {
		_, c := newTestServer(t, WithStaleMode(StaleIndependent), WithStaleReads(1))
		mustCreateRole(t, c, "app", lambdaTrust)
		if got := getRole(t, c); got != codeNoSuchEntity {
			t.Errorf("first GetRole = %s, want NoSuchEntity", got)
		}
		_, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("app")})
		if code, _ := apiCode(err); code != codeNoSuchEntity {
			t.Errorf("first ListAttachedRolePolicies = %v, want NoSuchEntity: its own stale read", err)
		}
		if got := getRole(t, c); got != "found" {
			t.Errorf("second GetRole = %s, want found", got)
		}
	})

	if _, err := ParseStaleMode("eventual"); err == nil {
		t.Error("ParseStaleMode(eventual) must fail")
	}
}
