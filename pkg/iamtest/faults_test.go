package iamtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// noBackoff keeps the SDK's retry decisions but removes its sleeps, so the
// tests observe retries without waiting.
func noBackoff(o *iam.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = 10
		so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		so.RateLimiter = noRateLimit{}
	})
}

type noRateLimit struct{}

func (noRateLimit) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}
func (noRateLimit) AddTokens(uint) error { return nil }

func TestFaultsRetriedBySDK(t *testing.T) {
	srv := NewServer()
	t.Cleanup(srv.Close)
	c := srv.Client(noBackoff)
	ctx := context.Background()
	if _, err := srv.SeedRole(Role{Name: "app", TrustPolicy: lambdaTrust}); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetFaults(Faults{Action: "GetRole", ThrottleRate: 0.5, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")}); err != nil {
			t.Fatalf("GetRole with 50%% throttling and 10 attempts: %v", err)
		}
	}
	n := srv.Calls("GetRole")
	throttled := 0
	for _, call := range srv.CallLog() {
		if call.Injected && call.ErrorCode == codeThrottling && call.Status == 400 {
			throttled++
		}
	}
	if n <= 20 || throttled != n-20 {
		t.Errorf("%d GetRole requests, %d throttled: want retries, every extra request a throttle", n, throttled)
	}

	// Same seed, same calls: same outcomes.
	srv2 := NewServer()
	t.Cleanup(srv2.Close)
	c2 := srv2.Client(noBackoff)
	srv2.SeedRole(Role{Name: "app", TrustPolicy: lambdaTrust})
	srv2.SetFaults(Faults{Action: "GetRole", ThrottleRate: 0.5, Seed: 7})
	for range 20 {
		c2.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
	}
	if srv2.Calls("GetRole") != n {
		t.Errorf("seeded faults not deterministic: %d vs %d requests", srv2.Calls("GetRole"), n)
	}

	// Faults of one action leave the others alone.
	if _, err := c.ListRoles(ctx, &iam.ListRolesInput{}); err != nil || srv.Calls("ListRoles") != 1 {
		t.Errorf("ListRoles affected by GetRole faults: %v", err)
	}
}

func TestPermanentServerError(t *testing.T) {
	for _, tc := range []struct {
		f      Faults
		code   string
		status int
	}{
		{Faults{ServerErrorRate: 1}, codeServiceFailure, 500},
		{Faults{UnavailableRate: 1}, codeServiceUnavailable, 503},
		{Faults{ThrottleRate: 1}, codeThrottling, 400},
	} {
		t.Run(tc.code, func(t *testing.T) {
			srv, _ := newTestServer(t)
			srv.SeedRole(Role{Name: "app", TrustPolicy: lambdaTrust})
			if err := srv.SetFaults(tc.f); err != nil {
				t.Fatal(err)
			}
			c := srv.Client(noBackoff, func(o *iam.Options) {
				o.Retryer = retry.AddWithMaxAttempts(o.Retryer, 4)
			})
			err := updateTrust(c, "app", foreignTrust)()
			var maxErr *retry.MaxAttemptsError
			if !errors.As(err, &maxErr) {
				t.Fatalf("want the SDK to give up after retrying, got %v", err)
			}
			if code, status := apiCode(err); code != tc.code || status != tc.status {
				t.Errorf("got %s %d", code, status)
			}
			if n := srv.Calls("UpdateAssumeRolePolicy"); n != 4 {
				t.Errorf("%d attempts, want 4", n)
			}
			if st, _ := srv.Role("app"); st.TrustPolicy != lambdaTrust {
				t.Error("a failed call changed state")
			}
			srv.ClearFaults()
			if err := updateTrust(c, "app", foreignTrust)(); err != nil {
				t.Errorf("after ClearFaults: %v", err)
			}
		})
	}
}

func TestFaultLatency(t *testing.T) {
	srv, c := newTestServer(t)
	if err := srv.SetFaults(Faults{Action: "ListRoles", Latency: 30 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListRoles(context.Background(), &iam.ListRolesInput{}); err != nil {
		t.Fatal(err)
	}
	log := srv.CallLog()
	if len(log) != 1 || log[0].Duration < 30*time.Millisecond || log[0].Injected {
		t.Errorf("call log = %+v, want one call delayed by at least the injected latency", log)
	}
}

func TestSetFaultsValidation(t *testing.T) {
	srv, _ := newTestServer(t)
	for _, f := range []Faults{{ThrottleRate: -0.1}, {ServerErrorRate: 1.5}, {ThrottleRate: 0.6, UnavailableRate: 0.6}, {Latency: -1}} {
		if err := srv.SetFaults(f); err == nil {
			t.Errorf("SetFaults(%+v) accepted", f)
		}
	}
}
