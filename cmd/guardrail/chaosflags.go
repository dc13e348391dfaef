package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

// faultFlags are the fault and consistency settings of the IAM stand-in
// that `guardrail iam-local` and `guardrail chaos` share (issue 14, issue 19).
type faultFlags struct {
	rate       *float64
	codes      *string
	latency    *time.Duration
	staleReads *int
	staleMode  *string
	staleFor   *time.Duration
	seed       *uint64
}

// chaosFlags registers the fault flags on fs, with no faults by default.
func chaosFlags(fs *flag.FlagSet) *faultFlags {
	return &faultFlags{
		rate: fs.Float64("fault-rate", 0, "probability (0-1) that a call fails with an injected error instead of being served"),
		codes: fs.String("fault-codes", "", "injected errors, comma-separated: Throttling (HTTP 400), ServiceFailure (500), ServiceUnavailable (503);\n"+
			"each shares --fault-rate, or has its own rate as Code=R (default Throttling)"),
		latency:    fs.Duration("latency", 0, "added to every call, e.g. 20ms"),
		staleReads: fs.Int("stale-reads", 0, "after each write to a role, its next N reads see the role as it was before"),
		staleMode:  fs.String("stale-mode", "independent", "independent: each read API counts its own N stale reads; coherent: the N are shared"),
		staleFor: fs.Duration("stale-for", 0, "a write is hidden from the --stale-reads reads only while less than D has passed since it\n"+
			"(IAM's propagation is bounded in time); 0: no time bound"),
		seed: fs.Uint64("seed", 1, "seed of the fault draws and of the unique IDs (reproducible runs)"),
	}
}

// faults returns the parsed fault settings.
func (f *faultFlags) faults() (iamtest.Faults, iamtest.StaleMode, error) {
	fl, err := iamtest.ParseFaults(*f.rate, *f.codes, *f.latency, *f.seed)
	if err != nil {
		return iamtest.Faults{}, 0, fmt.Errorf("--fault-rate/--fault-codes/--latency: %w", err)
	}
	if *f.staleReads < 0 {
		return iamtest.Faults{}, 0, fmt.Errorf("--stale-reads %d: must not be negative", *f.staleReads)
	}
	if *f.staleFor < 0 {
		return iamtest.Faults{}, 0, fmt.Errorf("--stale-for %v: must not be negative", *f.staleFor)
	}
	mode, err := iamtest.ParseStaleMode(*f.staleMode)
	if err != nil {
		return iamtest.Faults{}, 0, fmt.Errorf("--stale-mode: %w", err)
	}
	return fl, mode, nil
}

// options returns the stand-in options the flags ask for.
func (f *faultFlags) options() ([]iamtest.Option, error) {
	fl, mode, err := f.faults()
	if err != nil {
		return nil, err
	}
	return []iamtest.Option{iamtest.WithSeed(*f.seed), iamtest.WithFaults(fl),
		iamtest.WithStaleReads(*f.staleReads), iamtest.WithStaleMode(mode), iamtest.WithStaleFor(*f.staleFor)}, nil
}

// String summarises the settings for a log line.
func (f *faultFlags) String() string {
	return fmt.Sprintf("rate=%v codes=%q latency=%v stale-reads=%d stale-mode=%s stale-for=%v seed=%d",
		*f.rate, *f.codes, *f.latency, *f.staleReads, *f.staleMode, *f.staleFor, *f.seed)
}
