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
	chaos := chaosFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: guardrail iam-local [--addr 127.0.0.1:PORT] [--account 111122223333]")
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
	srv := iamtest.NewServer(append(chaosOpts, iamtest.WithListener(l), iamtest.WithAccount(*account), iamtest.WithLogger(logger))...)
	logger.Info("iam-local listening", "url", srv.URL, "account", *account, "faults", chaos.String())
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
