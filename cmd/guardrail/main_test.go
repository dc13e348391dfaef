package main

import (
	"strings"
	"testing"
)

// TestSubcommandFlags: every subcommand parsed by newFlags and parseFlags
// exits 0 after -h with its flags listed, and 2 on an unknown flag.
func TestSubcommandFlags(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		help []string // what -h must print
	}{
		{"check", []string{"usage: guardrail check", "-trusted-orgs"}},
		{"scan", []string{"usage: guardrail scan", "GUARDRAIL_LOCKDOWN_POLICY_ARN is required", "-concurrency"}},
		{"cost", []string{"-events-per-day", "-measured"}},
		{"demo", []string{"-enforcer", "-sweeper"}},
		{"perimeter", []string{"usage: guardrail perimeter", "-trusted-orgs", "-exempt-roles"}},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			stdout, stderr, code := runCmd(t, tc.cmd, "-h")
			if code != 0 || stdout != "" {
				t.Errorf("-h: exit %d, stdout %q; want 0 and nothing", code, stdout)
			}
			for _, want := range tc.help {
				if !strings.Contains(stderr, want) {
					t.Errorf("-h does not print %q:\n%s", want, stderr)
				}
			}
			if _, stderr, code := runCmd(t, tc.cmd, "--no-such-flag"); code != 2 || !strings.Contains(stderr, "flag provided but not defined") {
				t.Errorf("unknown flag: exit %d, stderr %q; want 2 and the flag package's message", code, stderr)
			}
		})
	}
}
