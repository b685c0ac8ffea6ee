package main

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"fetchadd/internal/testwait"
)

// tracedServer runs "serve -mode MODE -loops 1 -trace" (under strace when
// prefix holds its command line), drives session through it, stops it with
// SIGTERM, and returns its -trace lines (the log's left out).
func tracedServer(t *testing.T, mode string, prefix ...string) []string {
	t.Helper()
	args := append(prefix, os.Args[0], "serve", "-mode", mode, "-loops", "1", "-addr", "127.0.0.1:0", "-trace", "-trace-strsize", "64")
	cmd := exec.Command(args[0], args[1:]...)
	// TZ="": the log's clock needs no zoneinfo file, whose reads would be
	// the runtime's, not sock's.
	cmd.Env = append(os.Environ(), "FETCHADD_MAIN=1", "TZ=", "GORACE=atexit_sleep_ms=0")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 10000)
	go func() {
		defer close(lines)
		r := bufio.NewReader(stderr)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				lines <- strings.TrimSuffix(line, "\n")
			}
			if err != nil {
				return
			}
		}
	}()
	var traced []string
	addr, pid := "", 0
	for addr == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the server ended before listening; its trace: %q", traced)
			}
			if m := listening.FindStringSubmatch(line); m != nil {
				addr = m[1]
			} else if m := pidLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				pid, _ = strconv.Atoi(m[1])
			} else if !strings.HasPrefix(line, "fetchadd:") {
				traced = append(traced, line)
			}
		case <-time.After(timeout):
			t.Fatal("the server did not start")
		}
	}
	if pid <= 0 {
		t.Fatal("the server did not say its pid")
	}
	session(t, addr)
	syscall.Kill(pid, syscall.SIGTERM) // the server, not strace
	for {
		line, ok := testwait.Next(t, lines, "the server's exit after SIGTERM")
		if !ok {
			break
		}
		if !strings.HasPrefix(line, "fetchadd:") {
			traced = append(traced, line)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the server: %v; its trace:\n%s", err, strings.Join(traced, "\n"))
	}
	return traced
}

// pidLine is the log line that says the server's pid.
var pidLine = regexp.MustCompile(`fetchadd: .*pid (\d+)$`)

// session: two clients in turn, one with a last line and no LF; each
// half-closes and reads its replies.
func session(t *testing.T, addr string) {
	for _, s := range []struct{ send, want string }{
		{"5\n3\r\nx\n", "  --> 0\r\n  --> 5\r\n!!!!\r\n"},
		{"7", "  --> 8\r\n"},
	} {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(timeout))
		c.Write([]byte(s.send))
		c.(*net.TCPConn).CloseWrite()
		got, _ := io.ReadAll(c)
		c.Close()
		if string(got) != s.want {
			t.Fatalf("sent %q, got %q, want %q", s.send, got, s.want)
		}
	}
}
