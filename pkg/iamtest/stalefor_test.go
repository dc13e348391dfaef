package iamtest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// fakeClock is a clock a test moves by hand, safe for the server's
// handler goroutines.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestStaleFor(t *testing.T) {
	ctx := context.Background()
	type read struct {
		after time.Duration // clock advance before the read
		api   string        // "GetRole" or "ListRoles"
		stale bool          // the read must miss the created role
	}
	tests := []struct {
		name     string
		n        int
		staleFor time.Duration
		mode     StaleMode
		setAfter time.Duration // > 0: SetStaleFor(setAfter) before the reads
		reads    []read
	}{
		{
			name: "no time bound: count only, however late",
			n:    2,
			reads: []read{
				{time.Hour, "GetRole", true}, {time.Hour, "GetRole", true}, {0, "GetRole", false},
			},
		},
		{
			name: "bounded: stale before d, visible at d with reads left",
			n:    5, staleFor: 5 * time.Second,
			reads: []read{
				{time.Second, "GetRole", true}, {3 * time.Second, "GetRole", true},
				{time.Second, "GetRole", false}, {0, "GetRole", false},
			},
		},
		{
			name: "bounded: count ends the window before d",
			n:    1, staleFor: time.Minute,
			reads: []read{{0, "GetRole", true}, {0, "GetRole", false}},
		},
		{
			name: "independent: every API sees the write after d",
			n:    3, staleFor: 10 * time.Second, mode: StaleIndependent,
			reads: []read{
				{0, "GetRole", true}, {0, "ListRoles", true},
				{10 * time.Second, "ListRoles", false}, {0, "GetRole", false},
			},
		},
		{
			name: "late event: a read after d sees the write on its first try",
			n:    -1, staleFor: 5 * time.Second, mode: StaleIndependent,
			reads: []read{{2 * time.Minute, "GetRole", false}},
		},
		{
			name: "SetStaleFor bounds a window already open",
			n:    -1, setAfter: time.Second,
			reads: []read{{0, "GetRole", true}, {time.Second, "GetRole", false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			srv, c := newTestServer(t, WithClock(clk.now), WithStaleFor(tt.staleFor), WithStaleMode(tt.mode))
			srv.SetStaleReads("", tt.n)
			mustCreateRole(t, c, "app", lambdaTrust)
			if tt.setAfter > 0 {
				srv.SetStaleFor(tt.setAfter)
			}
			var got, want []bool
			for _, r := range tt.reads {
				clk.advance(r.after)
				want = append(want, r.stale)
				switch r.api {
				case "GetRole":
					_, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
					code, _ := apiCode(err)
					if err != nil && code != codeNoSuchEntity {
						t.Fatalf("GetRole: %v", err)
					}
					got = append(got, code == codeNoSuchEntity)
				case "ListRoles":
					out, err := c.ListRoles(ctx, &iam.ListRolesInput{})
					if err != nil {
						t.Fatalf("ListRoles: %v", err)
					}
					found := slices.ContainsFunc(out.Roles, func(r types.Role) bool { return aws.ToString(r.RoleName) == "app" })
					got = append(got, !found)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("stale per read = %v, want %v", got, want)
			}
		})
	}
}
