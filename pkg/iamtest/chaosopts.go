package iamtest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// StaleMode says how the read APIs share a role's stale-read window (see
// SetStaleReads). IAM's read APIs are not consistent with each other (IAM
// User Guide, "Changes that I make are not always immediately visible";
// shared/reference/aws-facts.md): GetRole may already show a write that
// ListAttachedRolePolicies does not, and the other way round.
type StaleMode int

const (
	// StaleCoherent: the next N reads of the role, whatever the API, see the
	// state before the write. The zero value, and what SetStaleReads did
	// before modes existed.
	StaleCoherent StaleMode = iota
	// StaleIndependent: each read API (GetRole, ListAttachedRolePolicies,
	// ListRolePolicies, GetRolePolicy, ListRoleTags, ListRoles,
	// GetAccountAuthorizationDetails) serves the state before the write to
	// its own next N reads of the role.
	StaleIndependent
)

// String returns the mode's flag spelling.
func (m StaleMode) String() string {
	if m == StaleIndependent {
		return "independent"
	}
	return "coherent"
}

// ParseStaleMode parses "independent" or "coherent".
func ParseStaleMode(s string) (StaleMode, error) {
	switch s {
	case "independent":
		return StaleIndependent, nil
	case "coherent":
		return StaleCoherent, nil
	}
	return 0, fmt.Errorf("iamtest: stale mode %q is neither independent nor coherent", s)
}

// SetStaleMode sets how read APIs share stale-read windows. Windows opened
// by later writes follow it; it applies to every role.
func (s *Server) SetStaleMode(m StaleMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.staleMode = m
}

// WithStaleReads opens a window of n stale reads after every write to any
// role, as SetStaleReads("", n) does after NewServer.
func WithStaleReads(n int) Option { return func(o *options) { o.staleReads = n } }

// WithStaleFor bounds stale-read windows in time: a write is hidden from
// the next N reads (WithStaleReads, SetStaleReads) only while less than d
// has passed since the write, by the server's clock (WithClock); from then
// on every read sees it. d <= 0 (the default) means no time bound: the
// window lasts until its reads are used up, as before this option existed.
//
// Why: IAM's eventual consistency is bounded in time, not in a number of
// reads. The IAM User Guide (Troubleshooting IAM, "Changes that I make are
// not always immediately visible";
// https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency)
// says a change takes time to become visible and advises waiting before
// relying on it: a read made seconds after the write may miss it, a read
// made long after does not. A count-only window can serve a stale answer
// to a read made minutes later (for instance a late-delivered event's
// GetRole), which real IAM would not; a client that waits out a time window
// longer than d (the guardrail's GUARDRAIL_CONSISTENCY_WINDOW) must then
// see the write.
func WithStaleFor(d time.Duration) Option { return func(o *options) { o.staleFor = d } }

// SetStaleFor changes the time bound of stale-read windows (see
// WithStaleFor); it applies to open windows too.
func (s *Server) SetStaleFor(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.staleFor = d
}

// WithStaleMode sets the stale mode from the start (default StaleCoherent).
func WithStaleMode(m StaleMode) Option { return func(o *options) { o.staleMode = m } }

// WithFaults installs f from the start, as SetFaults(f) does after
// NewServer; an invalid f makes NewServer panic, as it is a programming
// error in the test (check it first with f.Validate when it comes from user
// input).
func WithFaults(f Faults) Option { return func(o *options) { o.faults = append(o.faults, f) } }

// Validate reports whether f can be installed: every rate in [0,1], their
// sum at most 1, latency not negative.
func (f Faults) Validate() error {
	for _, r := range []float64{f.ThrottleRate, f.ServerErrorRate, f.UnavailableRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("iamtest: fault rate %v outside [0,1]", r)
		}
	}
	if sum := f.ThrottleRate + f.ServerErrorRate + f.UnavailableRate; sum > 1+1e-9 {
		return fmt.Errorf("iamtest: fault rates add up to %v, more than 1", sum)
	}
	if f.Latency < 0 {
		return fmt.Errorf("iamtest: negative latency %v", f.Latency)
	}
	return nil
}

// ParseFaults builds Faults from the flags of `guardrail iam-local`: rate is
// the total probability of an injected error; codes lists which errors,
// comma-separated, among Throttling (HTTP 400), ServiceFailure (HTTP 500)
// and ServiceUnavailable (HTTP 503). A code without a rate of its own takes
// an equal share of rate; "Code=R" gives it rate R of its own (so
// "Throttling=0.3,ServiceFailure=0.05" needs no rate). Empty codes with a
// non-zero rate mean Throttling.
func ParseFaults(rate float64, codes string, latency time.Duration, seed uint64) (Faults, error) {
	f := Faults{Latency: latency, Seed: seed}
	set := func(code string, r float64) error {
		switch code {
		case codeThrottling:
			f.ThrottleRate += r
		case codeServiceFailure:
			f.ServerErrorRate += r
		case codeServiceUnavailable:
			f.UnavailableRate += r
		default:
			return fmt.Errorf("iamtest: fault code %q is not one of %s, %s, %s",
				code, codeThrottling, codeServiceFailure, codeServiceUnavailable)
		}
		return nil
	}
	if rate < 0 || rate > 1 {
		return Faults{}, fmt.Errorf("iamtest: fault rate %v outside [0,1]", rate)
	}
	var shared []string
	for _, c := range strings.Split(codes, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		name, r, hasRate := strings.Cut(c, "=")
		if !hasRate {
			shared = append(shared, name)
			continue
		}
		v, err := strconv.ParseFloat(r, 64)
		if err != nil {
			return Faults{}, fmt.Errorf("iamtest: fault code %s: rate %q: %w", name, r, err)
		}
		if err := set(name, v); err != nil {
			return Faults{}, err
		}
	}
	if len(shared) == 0 && rate > 0 && strings.TrimSpace(codes) == "" {
		shared = []string{codeThrottling}
	}
	if len(shared) == 0 && rate > 0 {
		return Faults{}, fmt.Errorf("iamtest: fault rate %v given but every code in %q has its own rate", rate, codes)
	}
	for _, c := range shared {
		if err := set(c, rate/float64(len(shared))); err != nil {
			return Faults{}, err
		}
	}
	return f, f.Validate()
}
