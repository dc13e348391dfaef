package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

var accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)

// runIAMLocal runs the local IAM endpoint (pkg/iamtest) as a process for
// the demo and for running the Lambda binaries locally. It prints the
// endpoint URL on stdout once it accepts connections, logs one line per
// call on stderr, and stops cleanly when ctx is cancelled (main cancels it
// on SIGINT and SIGTERM).
func runIAMLocal(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("iam-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address host:port (port 0 picks a free one)")
	account := fs.String("account", iamtest.DefaultAccount, "12-digit account ID the endpoint plays")
	accounts := fs.String("accounts", "", "comma-separated 12-digit account IDs: play an organization of them (the first is the\nmanagement account, where the default credentials act; the others hold OrganizationAccountAccessRole),\nwith STS and Organizations on the same URL (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_ORGANIZATIONS)")
	chaos := chaosFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: guardrail iam-local [--addr 127.0.0.1:PORT] [--account 111122223333 | --accounts M,A,B]")
		fmt.Fprintln(stderr, "         [--fault-rate F] [--fault-codes Throttling,ServiceFailure,ServiceUnavailable] [--latency D]")
		fmt.Fprintln(stderr, "         [--stale-reads N] [--stale-mode independent|coherent] [--stale-for D] [--seed S]")
		fmt.Fprintln(stderr, "\nRuns a local IAM endpoint; point the AWS SDK at it with AWS_ENDPOINT_URL_IAM=<printed URL>")
		fmt.Fprintln(stderr, "and dummy credentials. Stops on SIGINT or SIGTERM.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "iam-local: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return 2
	}
	if !accountIDPattern.MatchString(*account) {
		fmt.Fprintf(stderr, "iam-local: --account %q is not a 12-digit account ID\n", *account)
		return 2
	}
	var org []string
	if *accounts != "" {
		if accountSet(fs, "account") {
			fmt.Fprintln(stderr, "iam-local: --account and --accounts exclude each other (the first of --accounts is the management account)")
			return 2
		}
		for _, a := range strings.Split(*accounts, ",") {
			a = strings.TrimSpace(a)
			if !accountIDPattern.MatchString(a) || slices.Contains(org, a) {
				fmt.Fprintf(stderr, "iam-local: --accounts: %q is not a 12-digit account ID, or is listed twice\n", a)
				return 2
			}
			org = append(org, a)
		}
		*account = org[0]
	}
	chaosOpts, err := chaos.options()
	if err != nil {
		fmt.Fprintf(stderr, "iam-local: %v\n", err)
		return 2
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "iam-local: listen on %s: %v\n", *addr, err)
		return 1
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	opts := append(chaosOpts, iamtest.WithListener(l), iamtest.WithAccount(*account), iamtest.WithLogger(logger))
	if len(org) > 0 {
		opts = append(opts, iamtest.WithAccounts(org...))
	}
	srv := iamtest.NewServer(opts...)
	if len(org) > 0 {
		logger.Info("iam-local listening", "url", srv.URL, "management_account", org[0], "member_accounts", strings.Join(org[1:], ","), "faults", chaos.String())
	} else {
		logger.Info("iam-local listening", "url", srv.URL, "account", *account, "faults", chaos.String())
	}
	// The URL on stdout is the readiness signal the demo and the end-to-end
	// test wait for; the listener already accepts connections at this point.
	if _, err := fmt.Fprintln(stdout, srv.URL); err != nil {
		srv.Close()
		fmt.Fprintf(stderr, "iam-local: write URL: %v\n", err)
		return 1
	}
	<-ctx.Done()
	srv.Close()
	logger.Info("iam-local stopped", "calls", srv.Calls(""))
	return 0
}

// accountSet reports whether the flag name was given on the command line.
func accountSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
