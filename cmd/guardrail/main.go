// Command guardrail is the local tool of the IAM service role guardrail: it
// reviews trust policies offline, scans an account, runs the local IAM
// endpoint and drives the local demo, all with the same packages the Lambdas use.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand: it parses its own flags from args and returns
// the process exit status (0 ok, 1 evaluation failures, 2 usage or input errors).
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order the usage message shows them.
var commands = []command{
	{"check", "review trust policies offline: what the guardrail would remove", runCheck},
	{"iam-local", "run the local IAM endpoint the SDK can talk to (tests, demo)", runIAMLocal},
	{"scan", "evaluate every role of an account; --enforce to fix them", runScan},
	{"demo", "run the Lambdas locally under the Runtime Interface Emulator (make demo)", runDemo},
	{"demo-org", "run the hub's Lambdas locally against an organization of three members (make demo-org)", runDemoOrg},
	{"perimeter", "print the organization policies (RCP, lockdown SCPs) built from the same settings", runPerimeter},
	{"cost", "estimate what one account's deployment costs a month", runCost},
	{"report", "summarize decision records (file, stdin or CloudWatch Logs) as text, markdown or html", runReport},
	{"chaos", "drive the Lambdas locally through faults, stale reads and bursts; report (make chaos)", runChaos},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "guardrail: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: guardrail <command> [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'guardrail <command> -h' for a command's flags.")
}

// newFlags returns a subcommand's flag set. It reports to stderr; when usage
// lines are given, -h and a bad flag print them before the flags' defaults.
func newFlags(name string, stderr io.Writer, usage ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if len(usage) > 0 {
		fs.Usage = func() {
			for _, l := range usage {
				fmt.Fprintln(stderr, l)
			}
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses a subcommand's arguments. When the command must stop
// there it returns false and the exit status: 0 after -h, 2 for a bad flag
// (the flag package has printed why).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}
