package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/iamguardrail/guardrail/pkg/cost"
)

// demoLog is what one function wrote during a demo run (`make demo` leaves
// <out>/enforcer.log and <out>/sweeper.log): the JSON lines the function
// itself printed, which are what CloudWatch Logs ingests from it, and the
// emulator's own START/END/REPORT and INIT lines, which give the durations.
type demoLog struct {
	invocations int       // REPORT lines
	durationsMS []float64 // per invocation, without the init phase
	initsMS     []float64 // INIT REPORT durations (cold starts)
	jsonBytes   int       // bytes of the function's JSON lines, newline included
	decisions   int       // lines with msg "decision"
	recordBytes int       // bytes of those decision lines
	emfLines    int       // lines with an "_aws" member
	emfBytes    int       // bytes of those lines
	emfRecBytes int       // bytes of the EMF lines of decision records (they name a role_arn)
	summaries   int       // lines with msg "sweep summary"
	listed      int       // sum of the summaries' "listed"
	textBytes   int       // bytes of the emulator's START, END and REPORT lines
}

// The emulator (aws-lambda-rie) reports each invocation as Lambda's text
// format does ("REPORT RequestId: … Duration: 6.89 ms …") and the init
// phase in its own log line ("INIT REPORT(durationMs: 47.984000)"). Its first
// REPORT includes the init phase, which it runs lazily on the first invoke.
var (
	reportDuration = regexp.MustCompile(`^REPORT RequestId: \S+\t(?:Init Duration: [0-9.]+ ms\t)?Duration: ([0-9.]+) ms`)
	initReport     = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
)

// readDemoLog parses one function's demo log.
func readDemoLog(r io.Reader) (demoLog, error) {
	var l demoLog
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	first := true
	for sc.Scan() {
		line := sc.Text()
		n := len(line) + 1
		switch {
		case strings.HasPrefix(line, "{"):
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				return l, fmt.Errorf("function output is not one JSON object per line: %q: %w", line, err)
			}
			l.jsonBytes += n
			var msg string
			_ = json.Unmarshal(m["msg"], &msg)
			switch {
			case m["_aws"] != nil:
				l.emfLines++
				l.emfBytes += n
				if m["role_arn"] != nil {
					l.emfRecBytes += n
				}
			case msg == "decision":
				l.decisions++
				l.recordBytes += n
			case msg == "sweep summary":
				l.summaries++
				var listed int
				if err := json.Unmarshal(m["listed"], &listed); err != nil {
					return l, fmt.Errorf("sweep summary without a listed count: %q", line)
				}
				l.listed += listed
			}
		case strings.HasPrefix(line, "START RequestId:"), strings.HasPrefix(line, "END RequestId:"):
			l.textBytes += n
		case strings.HasPrefix(line, "REPORT RequestId:"):
			l.textBytes += n
			m := reportDuration.FindStringSubmatch(line)
			if m == nil {
				return l, fmt.Errorf("unrecognised REPORT line %q", line)
			}
			d, _ := strconv.ParseFloat(m[1], 64)
			if first && len(l.initsMS) > 0 {
				d = max(d-l.initsMS[len(l.initsMS)-1], 0)
			}
			first = false
			l.invocations++
			l.durationsMS = append(l.durationsMS, d)
		default:
			if m := initReport.FindStringSubmatch(line); m != nil {
				d, _ := strconv.ParseFloat(m[1], 64)
				l.initsMS = append(l.initsMS, d)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("read log: %w", err)
	}
	return l, nil
}

// add merges another run's log into l.
func (l *demoLog) add(o demoLog) {
	l.invocations += o.invocations
	l.durationsMS = append(l.durationsMS, o.durationsMS...)
	l.initsMS = append(l.initsMS, o.initsMS...)
	l.jsonBytes += o.jsonBytes
	l.decisions += o.decisions
	l.recordBytes += o.recordBytes
	l.emfLines += o.emfLines
	l.emfBytes += o.emfBytes
	l.emfRecBytes += o.emfRecBytes
	l.summaries += o.summaries
	l.listed += o.listed
	l.textBytes += o.textBytes
}

// demoMeasurement is the figures the cost estimate takes from demo runs.
type demoMeasurement struct {
	enforcer, sweeper demoLog
}

// readDemoDir reads <dir>/enforcer.log and <dir>/sweeper.log.
func readDemoDir(dir string) (demoMeasurement, error) {
	var m demoMeasurement
	for name, dst := range map[string]*demoLog{"enforcer.log": &m.enforcer, "sweeper.log": &m.sweeper} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return m, fmt.Errorf("demo output: %w (run `make demo` first)", err)
		}
		l, err := readDemoLog(f)
		f.Close()
		if err != nil {
			return m, fmt.Errorf("%s: %w", name, err)
		}
		*dst = l
	}
	if m.enforcer.invocations == 0 || m.sweeper.invocations == 0 || m.sweeper.listed == 0 {
		return m, fmt.Errorf("demo output in %s holds no complete run (enforcer %d invocations, sweeper %d, %d roles listed)",
			dir, m.enforcer.invocations, m.sweeper.invocations, m.sweeper.listed)
	}
	return m, nil
}

// percentile is the nearest-rank percentile p (0 < p ≤ 100) of xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// platformJSONFactor scales the emulator's text START/END/REPORT lines to
// the JSON platform records Lambda writes with the JSON log format, which
// the emulator does not produce: JSON adds metadata and field names ("the
// size of your function's log messages can increase",
// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html).
// The factor is an assumption, not a measurement.
const platformJSONFactor = 2

// measured turns demo logs into the estimate's measured inputs.
func (d demoMeasurement) measured(source string) cost.Measured {
	e, s := d.enforcer, d.sweeper
	inits := append(slices.Clone(e.initsMS), s.initsMS...)
	var sweepMS float64
	for _, ms := range s.durationsMS {
		sweepMS += ms
	}
	perSweep := s.jsonBytes - s.recordBytes - s.emfRecBytes
	return cost.Measured{
		EnforcerBytesPerEvent:      float64(e.jsonBytes) / float64(e.invocations),
		SweepBytesPerRecord:        float64(s.recordBytes+s.emfRecBytes) / float64(max(s.decisions, 1)),
		SweepBytesPerSweep:         float64(perSweep) / float64(max(s.summaries, 1)),
		PlatformBytesPerInvocation: platformJSONFactor * float64(e.textBytes+s.textBytes) / float64(e.invocations+s.invocations),
		EnforcerP50MS:              percentile(e.durationsMS, 50),
		EnforcerP99MS:              percentile(e.durationsMS, 99),
		SweepMSPerRole:             sweepMS / float64(s.listed),
		InitMS:                     slices.Max(append(inits, 0)),
		RecordsPerRole:             float64(s.decisions) / float64(s.listed),
		Source:                     source,
	}
}
