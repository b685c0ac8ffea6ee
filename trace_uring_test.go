//go:build linux && !race

package main

// The race detector slows a program under ptrace past the server's
// one-second stop bound (see trace_test.go): without it only.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"fetchadd/server"
)

// TestTraceMatchesStraceUring: strace sees the uring mode's io_uring_enter
// calls, and nothing of the operations they submit and complete, which
// go through memory. -trace prints both: its io_uring_enter lines must be
// strace's, in the same order, with the same arguments and results.
func TestTraceMatchesStraceUring(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed (.ci/run installs it)")
	}
	out := filepath.Join(t.TempDir(), "strace.txt")
	skipRefused(t, server.CheckUring())
	traced := tracedServer(t, server.Uring, strace, "-f", "-qq", "-e", "trace=socket,io_uring_enter", "-e", "signal=none", "-o", out)
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// From the listening socket on, as straceLines takes strace's lines
	// (CheckUring's ring comes before it).
	enters := func(lines []string) []string {
		var calls []string
		started := false
		for _, l := range normalize(lines) {
			started = started || strings.HasPrefix(l, "socket(")
			if started && strings.HasPrefix(l, "io_uring_enter(") {
				calls = append(calls, l)
			}
		}
		return calls
	}
	got, want := enters(traced), enters(straceLines(string(raw)))
	for i := 0; i < len(want) || i < len(got); i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Fatalf("io_uring_enter %d differs:\n strace: %s\n -trace: %s\n(strace said %d calls, -trace %d)", i+1, w, g, len(want), len(got))
		}
	}
	t.Logf("%d io_uring_enter calls compared", len(want))
	if len(want) < 5 {
		t.Fatalf("only %d io_uring_enter calls compared", len(want))
	}
}
