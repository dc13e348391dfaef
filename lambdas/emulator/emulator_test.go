package emulator_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamguardrail/guardrail/lambdas/emulator"
)

func rie(t *testing.T) string {
	t.Helper()
	return emulator.Require(t, testing.Short())
}

func buildEcho(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", out, "./testdata/echo")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build echo: %v\n%s", err, b)
	}
	return out
}

func TestInvoke(t *testing.T) {
	rieBin := rie(t)
	bootstrap := buildEcho(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var stdout emulator.Buffer
	f, err := emulator.Start(ctx, emulator.Options{
		RIE: rieBin, Bootstrap: bootstrap, Timeout: 5 * time.Second,
		Env: []string{"ECHO_ENV=passed"}, Stdout: &stdout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if !strings.HasPrefix(f.URL, "http://127.0.0.1:") {
		t.Errorf("URL %s is not on loopback", f.URL)
	}

	tests := []struct {
		name    string
		event   string
		want    string
		wantErr string
	}{
		{name: "echo", event: `{"a":1}`, want: `{"a":1}`},
		{name: "function error", event: `{"fail":"boom"}`, wantErr: "boom"},
		{name: "after an error the function still serves", event: `{"b":2}`, want: `{"b":2}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := f.Invoke(ctx, []byte(tc.event))
			if tc.wantErr != "" {
				var fe *emulator.FunctionError
				if !errors.As(err, &fe) || !strings.Contains(fe.Message, tc.wantErr) {
					t.Fatalf("Invoke = %s, %v; want function error %q", body, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(bytes.TrimSpace(body)) != tc.want {
				t.Errorf("body %s, want %s", body, tc.want)
			}
		})
	}
	if !strings.Contains(stdout.String(), `"env":"passed"`) {
		t.Errorf("function output or environment missing from the emulator's stdout:\n%s", stdout.String())
	}

	f.Close()
	select {
	case <-f.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("emulator still running after Close")
	}
	if _, err := f.Invoke(ctx, []byte(`{}`)); err == nil {
		t.Error("invoke after Close succeeded")
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := emulator.Start(ctx, emulator.Options{RIE: filepath.Join(dir, "none"), Bootstrap: filepath.Join(dir, "none")}); err == nil {
		t.Error("missing executables: no error")
	}
	// An emulator that exits at once is reported, not waited on.
	exit := filepath.Join(dir, "exit")
	os.WriteFile(exit, []byte("#!/bin/sh\nexit 3\n"), 0o755)
	start := time.Now()
	if _, err := emulator.Start(ctx, emulator.Options{RIE: exit, Bootstrap: exit, StartTimeout: 5 * time.Second}); err == nil {
		t.Error("exiting emulator: no error")
	}
	if time.Since(start) > 4*time.Second {
		t.Error("Start waited for the timeout although the emulator had exited")
	}
}
