// Package emulator runs a Lambda function's bootstrap binary under the AWS
// Lambda Runtime Interface Emulator (github.com/aws/aws-lambda-runtime-interface-emulator)
// on loopback ports and invokes it over HTTP, the way Lambda would. The demo
// and the end-to-end tests use it to run the very binaries `make build` ships.
//
// Start gives a *Function with the invoke URL; Close stops the emulator and
// the function process it spawned. Only 127.0.0.1 is ever bound, on ports
// the kernel picks, so several emulators (or test runs) can run side by side.
package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// Options describe one emulated function.
type Options struct {
	// RIE is the path of the aws-lambda-rie executable.
	RIE string
	// Bootstrap is the path of the function's bootstrap executable.
	Bootstrap string
	// Env holds the function's environment ("KEY=value"), added to the
	// emulator's own, which it passes on to the function like Lambda does.
	Env []string
	// Timeout is the function timeout (AWS_LAMBDA_FUNCTION_TIMEOUT); the
	// emulator gives the invocation a deadline of this length. Default 60 s.
	Timeout time.Duration
	// Name is the function name the emulator reports (AWS_LAMBDA_FUNCTION_NAME).
	Name string
	// Stdout receives the emulator's standard output, which carries the
	// function's own output (the decision records) and the emulator's
	// START/END/REPORT lines. Nil discards it.
	Stdout io.Writer
	// Stderr receives the emulator's diagnostics. Nil discards them.
	Stderr io.Writer
	// StartTimeout bounds the wait for the emulator to accept connections.
	// Default 10 s.
	StartTimeout time.Duration
}

// Function is a running emulator with its function.
type Function struct {
	// URL is the invoke URL (POST the event as the body).
	URL string
	// Started is when the emulator process was started.
	Started time.Time

	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	client *http.Client
	once   sync.Once
}

// InvokePath is the emulator's invoke path, the same as the Lambda Invoke API's.
const InvokePath = "/2015-03-31/functions/function/invocations"

// Start starts the emulator with the function and waits until it accepts
// connections. The function process itself starts on the first invocation,
// as in Lambda (init runs on the first event).
func Start(ctx context.Context, o Options) (*Function, error) {
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 10 * time.Second
	}
	if o.Name == "" {
		o.Name = "function"
	}
	for _, p := range []string{o.RIE, o.Bootstrap} {
		if st, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		} else if st.IsDir() {
			return nil, fmt.Errorf("emulator: %s is a directory", p)
		}
	}
	invokeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	runtimeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// Always name both addresses: the emulator otherwise binds 0.0.0.0:8080
	// and 127.0.0.1:9001, which collide between runs and expose the
	// function on every interface (toolchain.md pitfall 10).
	cmd := exec.Command(o.RIE,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", runtimeAddr,
		o.Bootstrap)
	cmd.Env = append(os.Environ(),
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(int((o.Timeout+time.Second-1)/time.Second)),
		"AWS_LAMBDA_FUNCTION_NAME="+o.Name,
	)
	cmd.Env = append(cmd.Env, o.Env...)
	cmd.Stdout = orDiscard(o.Stdout)
	cmd.Stderr = orDiscard(o.Stderr)
	setProcessGroup(cmd)

	f := &Function{
		URL:    "http://" + invokeAddr + InvokePath,
		cmd:    cmd,
		done:   make(chan struct{}),
		client: &http.Client{Timeout: o.Timeout + 10*time.Second},
	}
	f.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("emulator: start %s: %w", o.RIE, err)
	}
	go func() {
		f.err = cmd.Wait()
		close(f.done)
	}()
	if err := f.waitReady(ctx, invokeAddr, o.StartTimeout); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (f *Function) waitReady(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-f.done:
			return fmt.Errorf("emulator exited before it was ready: %v", f.err)
		case <-ctx.Done():
			return fmt.Errorf("emulator: waiting for %s: %w", addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("emulator: not accepting connections on %s after %s", addr, limit)
		}
	}
}

// FunctionError is the error a function returned for an invocation, as the
// Lambda runtime API reports it.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Invoke sends one event and returns the function's response. A function
// error (the handler returned an error or the function crashed) is returned
// as a *FunctionError; an emulator failure as another error.
func (f *Function) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL, bytes.NewReader(event))
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke: read response: %w", err)
	}
	if fe := asFunctionError(body); fe != nil {
		return body, fe
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("invoke: emulator answered %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// asFunctionError recognises the runtime API's error document
// {"errorMessage": ..., "errorType": ...}, which the emulator passes through.
func asFunctionError(body []byte) *FunctionError {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	if _, ok := m["errorType"]; !ok {
		if _, ok := m["errorMessage"]; !ok {
			return nil
		}
	}
	var fe FunctionError
	if json.Unmarshal(body, &fe) != nil {
		return &FunctionError{Type: "Unknown", Message: string(body)}
	}
	return &fe
}

// Close stops the emulator and the function process: SIGTERM to the whole
// process group, SIGKILL after two seconds. It is safe to call more than once.
func (f *Function) Close() error {
	f.once.Do(func() {
		terminate(f.cmd)
		select {
		case <-f.done:
		case <-time.After(2 * time.Second):
			kill(f.cmd)
			<-f.done
		}
	})
	return nil
}

// Done is closed when the emulator process has exited.
func (f *Function) Done() <-chan struct{} { return f.done }

// freeAddr returns a loopback address with a port that was free a moment
// ago. The emulator takes addresses, not listeners, so there is a short
// window in which another process could take the port; Start then fails
// with a clear error rather than talking to the wrong server.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("emulator: find a free port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("emulator: release port: %w", err)
	}
	return addr, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// ErrNoRIE is returned by Find when no emulator executable is configured.
var ErrNoRIE = errors.New("AWS Lambda Runtime Interface Emulator not found")

// EnvRIE names the environment variable that holds the emulator's path; the
// Makefile sets it for `make test` and `make demo`.
const EnvRIE = "GUARDRAIL_RIE"

// Find returns the emulator's path from $GUARDRAIL_RIE, else aws-lambda-rie
// on $PATH, else ErrNoRIE. A $GUARDRAIL_RIE that names no file is an error,
// not ErrNoRIE: `make test` sets it, and its tests must then run, not skip.
func Find() (string, error) {
	if p := os.Getenv(EnvRIE); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvRIE, p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w: set %s or install it with `make tools` (`make test` installs it and sets %s)", ErrNoRIE, EnvRIE, EnvRIE)
}

// TB is the part of testing.TB that Require uses (this package does not
// import testing: the demo links it).
type TB interface {
	Helper()
	Skip(args ...any)
	Fatal(args ...any)
}

// Require is Find for the tests that run the emulator: a missing emulator
// fails the test with a message naming it and how to get it, so no test is
// left out silently. The test is skipped only where leaving it out is
// deliberate: under `go test -short` (short is testing.Short()), and on a
// system other than Linux, where the emulator cannot run the bootstraps.
func Require(t TB, short bool) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the Runtime Interface Emulator runs Linux binaries only (GOOS=" + runtime.GOOS + ")")
	}
	path, err := Find()
	if errors.Is(err, ErrNoRIE) && short {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}
