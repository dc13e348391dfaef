package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
)

// roleList collects repeated --role flags.
type roleList []string

func (l *roleList) String() string { return strings.Join(*l, ",") }

func (l *roleList) Set(s string) error {
	if s = strings.TrimSpace(s); s == "" {
		return errors.New("empty role name")
	}
	*l = append(*l, s)
	return nil
}

// runScan evaluates every role of the account the SDK's default
// configuration points at (a profile, environment credentials, or the local
// endpoint through AWS_ENDPOINT_URL_IAM) with the same engine and sweep as
// the Lambdas, and prints one decision record per role on stdout and a
// summary on stderr. Without --enforce it writes nothing: this is how a team
// sees what the guardrail would do before deploying it.
//
// Configuration comes from the GUARDRAIL_* variables like the Lambdas'; the
// flag decides the mode of every control that is not turned off (skip).
// --enforce refuses to run without GUARDRAIL_PROTECTED_ROLE_ARNS.
func runScan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: guardrail scan [--enforce] [--role NAME]... [--concurrency N]")
		fmt.Fprintln(stderr, "\nEvaluates every role of the account the AWS SDK's default configuration points at")
		fmt.Fprintln(stderr, "(profile, environment, or AWS_ENDPOINT_URL_IAM for the local endpoint) and prints one")
		fmt.Fprintln(stderr, "decision record per role. Without --enforce nothing is written (check mode).")
		fmt.Fprintln(stderr, "Configuration: the GUARDRAIL_* environment variables, as for the Lambdas")
		fmt.Fprintf(stderr, "(%s is required unless %s=skip).\n\n", config.EnvLockdownPolicyARN, config.EnvLockdownMode)
		fs.PrintDefaults()
	}
	enforce := fs.Bool("enforce", false, "change roles (enforce mode); default is check mode, which writes nothing")
	var roles roleList
	fs.Var(&roles, "role", "evaluate only this role (repeatable); default: every role")
	concurrency := fs.Int("concurrency", guardrail.DefaultSweepConcurrency, "roles evaluated at once")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || *concurrency < 1 {
		fs.Usage()
		return 2
	}
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "guardrail scan: %v\n", err)
		return 2
	}
	mode := config.Check
	if *enforce {
		mode = config.Enforce
		// The guardrail's own roles are service roles to the engine unless
		// configured as protected; enforced, they would get the lockdown,
		// which denies them their own log groups, queues and rules (and
		// only the deployed Lambdas get this setting from the stack).
		if len(cfg.ProtectedRoleARNs) == 0 {
			fmt.Fprintf(stderr, "guardrail scan: --enforce needs %s (the guardrail's own roles, e.g. arn:aws:iam::ACCOUNT:role/IamRoleGuardrail-*), or it would lock them down like any service role\n", config.EnvProtectedRoleARNs)
			return 2
		}
	}
	for _, m := range []*config.Mode{&cfg.TrustMode, &cfg.LockdownMode} {
		if *m != config.Skip {
			*m = mode
		}
	}
	client, err := guardrail.NewIAMClient(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "guardrail scan: %v\n", err)
		return 1
	}
	engine, err := guardrail.New(client, cfg, guardrail.WithVersion(buildVersion()))
	if err != nil {
		fmt.Fprintf(stderr, "guardrail scan: %v\n", err)
		return 2
	}
	out := decision.NewWriter(stdout, "")
	sum, err := engine.Sweep(ctx, guardrail.SweepOptions{
		Trigger:     guardrail.Trigger{EventName: "Scan"},
		Concurrency: *concurrency,
		RoleNames:   roles,
	}, func(r decision.Record) { out.Write(ctx, r) })

	fmt.Fprintf(stderr, "guardrail scan (trust %s, lockdown %s): %d roles, %d compliant, %d %s, %d skipped, %d gone, %d errors, %d left; %d IAM calls in %d ms\n",
		cfg.TrustMode, cfg.LockdownMode, sum.Listed, sum.Compliant,
		sum.Changed+sum.WouldChange, map[bool]string{true: "changed", false: "would change"}[*enforce],
		sum.Skipped, sum.Gone, sum.Errors, sum.Left, sum.APICalls, sum.DurationMS)
	if err != nil {
		fmt.Fprintf(stderr, "guardrail scan: %v\n", err)
		return 1
	}
	if sum.Errors > 0 || sum.Left > 0 {
		return 1
	}
	return 0
}

// buildVersion is the module version the binary was built from ("(devel)"
// for a local build), with the VCS revision when Go recorded one.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}
