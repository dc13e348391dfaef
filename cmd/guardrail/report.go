package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/iamguardrail/guardrail/pkg/report"
)

// recordsPattern selects the decision records and sweep summaries in a
// log group (CloudWatch Logs JSON filter pattern syntax).
const recordsPattern = `{ ($.msg = "decision") || ($.msg = "sweep summary") }`

// runReport summarizes decision records: from files (or stdin, or "-"), or
// with --log-group from CloudWatch Logs through the SDK over a time range.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("report", stderr,
		"usage: guardrail report [--format text|markdown|html] [--out FILE] [FILE...]",
		"       guardrail report --log-group NAME[,NAME] [--since 24h | --start RFC3339 [--end RFC3339]] [--format …]",
		"Reads decision records (JSON lines, as the Lambdas write them: a file, stdin, or CloudWatch Logs) and prints",
		"counts by outcome and class, every principal removed, the errors and the roles still not compliant.")
	format := fs.String("format", report.Text, "text, markdown or html (one self-contained page)")
	out := fs.String("out", "", "write the report to this file instead of stdout")
	groups := fs.String("log-group", "", "read from these CloudWatch Logs groups (comma-separated) with the SDK's default configuration")
	since := fs.Duration("since", 24*time.Hour, "with --log-group: records of this long before --end")
	start := fs.String("start", "", "with --log-group: records from this time (RFC 3339; overrides --since)")
	end := fs.String("end", "", "with --log-group: records until this time (RFC 3339; default now)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *format != report.Text && *format != report.Markdown && *format != report.HTML {
		fmt.Fprintf(stderr, "report: --format %q is not text, markdown or html\n", *format)
		return 2
	}
	var in io.Reader
	switch {
	case *groups != "" && fs.NArg() > 0:
		fmt.Fprintln(stderr, "report: give files or --log-group, not both")
		return 2
	case *groups != "":
		from, to, err := timeRange(*since, *start, *end, time.Now())
		if err != nil {
			fmt.Fprintf(stderr, "report: %v\n", err)
			return 2
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "report: load AWS configuration: %v\n", err)
			return 1
		}
		b, err := fetchRecords(ctx, cloudwatchlogs.NewFromConfig(cfg), strings.Split(*groups, ","), from, to)
		if err != nil {
			fmt.Fprintf(stderr, "report: %v\n", err)
			return 1
		}
		in = bytes.NewReader(b)
	case fs.NArg() == 0 || (fs.NArg() == 1 && fs.Arg(0) == "-"):
		in = stdin
	default:
		var readers []io.Reader
		for _, p := range fs.Args() {
			f, err := os.Open(p)
			if err != nil {
				fmt.Fprintf(stderr, "report: %v\n", err)
				return 2
			}
			defer f.Close()
			readers = append(readers, f, strings.NewReader("\n"))
		}
		in = io.MultiReader(readers...)
	}
	s, err := report.Read(in)
	if err != nil {
		fmt.Fprintf(stderr, "report: %v\n", err)
		return 1
	}
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintf(stderr, "report: %v\n", err)
			return 1
		}
		defer f.Close()
		w = f
	}
	if err := report.Write(w, s, *format); err != nil {
		fmt.Fprintf(stderr, "report: %v\n", err)
		return 1
	}
	if *out != "" {
		fmt.Fprintf(stdout, "Report of %d decision records: %s\n", s.Records, *out)
	}
	return 0
}

// stdin is where `guardrail report` reads records without files; tests
// replace it.
var stdin io.Reader = os.Stdin

// timeRange resolves --since, --start and --end against now.
func timeRange(since time.Duration, start, end string, now time.Time) (time.Time, time.Time, error) {
	to := now
	if end != "" {
		t, err := time.Parse(time.RFC3339, end)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("--end %q is not an RFC 3339 time", end)
		}
		to = t
	}
	from := to.Add(-since)
	if start != "" {
		t, err := time.Parse(time.RFC3339, start)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("--start %q is not an RFC 3339 time", start)
		}
		from = t
	}
	if since <= 0 && start == "" {
		return time.Time{}, time.Time{}, fmt.Errorf("--since must be positive")
	}
	if !from.Before(to) {
		return time.Time{}, time.Time{}, fmt.Errorf("the range %s to %s is empty", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return from, to, nil
}

// logsAPI is the CloudWatch Logs call the report makes;
// *cloudwatchlogs.Client satisfies it.
type logsAPI interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// fetchRecords reads every decision record and sweep summary of the log
// groups in [from, to) with FilterLogEvents and its paginator, one line each.
func fetchRecords(ctx context.Context, client logsAPI, groups []string, from, to time.Time) ([]byte, error) {
	var buf bytes.Buffer
	for _, g := range groups {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		p := cloudwatchlogs.NewFilterLogEventsPaginator(client, &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName:  aws.String(g),
			FilterPattern: aws.String(recordsPattern),
			StartTime:     aws.Int64(from.UnixMilli()),
			EndTime:       aws.Int64(to.UnixMilli()),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("read log group %s: %w", g, err)
			}
			for _, ev := range page.Events {
				buf.WriteString(strings.TrimRight(aws.ToString(ev.Message), "\n"))
				buf.WriteByte('\n')
			}
		}
	}
	return buf.Bytes(), nil
}
