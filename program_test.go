package main

// The program as a user runs it: a child process (this test binary
// standing in for fetchadd, see TestMain), its status, its output, and its
// answer to signals.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"fetchadd/internal/testwait"
	"fetchadd/server"
)

// program is a running fetchadd child process.
type program struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *bufio.Reader
	done   chan struct{} // closed when the process has exited
	err    error         // its exit, valid once done is closed
}

// command returns the fetchadd command line args as a child process.
func command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	// GORACE: a race-detector build otherwise sleeps a second at exit.
	cmd.Env = append(os.Environ(), "FETCHADD_MAIN=1", "GORACE=atexit_sleep_ms=0")
	return cmd
}

// start runs fetchadd args in the background until the test ends.
func start(t *testing.T, args ...string) *program {
	t.Helper()
	p := &program{t: t, cmd: command(args...), done: make(chan struct{})}
	var err error
	p.stdin, _ = p.cmd.StdinPipe()
	out, _ := p.cmd.StdoutPipe()
	errOut, _ := p.cmd.StderrPipe()
	p.stdout, p.stderr = bufio.NewReader(out), bufio.NewReader(errOut)
	if err = p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		testwait.Recv(t, p.done, "the killed program's exit")
	})
	return p
}

// waitLine reads stderr lines until one matches re, and returns its
// submatches.
func (p *program) waitLine(re *regexp.Regexp) []string {
	p.t.Helper()
	found := make(chan []string, 1)
	go func() {
		for {
			line, err := p.stderr.ReadString('\n')
			if m := re.FindStringSubmatch(line); m != nil {
				found <- m
				go io.Copy(io.Discard, p.stderr) // keep the pipe from filling
				return
			}
			if err != nil {
				found <- nil
				return
			}
		}
	}()
	select {
	case m := <-found:
		if m == nil {
			p.t.Fatalf("stderr ended before a line matching %v", re)
		}
		return m
	case <-time.After(timeout):
		p.t.Fatalf("no line matching %v on stderr", re)
	}
	return nil
}

// wait waits for the process to exit and returns its status.
func (p *program) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("fetchadd %v did not exit", p.cmd.Args[1:])
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	if p.err != nil {
		p.t.Fatal(p.err)
	}
	return 0
}

var listening = regexp.MustCompile(`listening on (\S+):`)

// TestServeSignals: SIGINT or SIGTERM stops the server with status 0,
// after it has answered the line it was given.
func TestServeSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			p := start(t, "serve", "-addr", "127.0.0.1:0")
			addr := p.waitLine(listening)[1]
			c, err := net.DialTimeout("tcp", addr, timeout)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(timeout))
			c.Write([]byte("7\n"))
			r := bufio.NewReader(c)
			if line, err := r.ReadString('\n'); line != "  --> 0\r\n" {
				t.Fatalf("reply %q, %v", line, err)
			}
			p.cmd.Process.Signal(sig)
			if status := p.wait(); status != 0 {
				t.Fatalf("status %d after %v, want 0", status, sig)
			}
			if rest, err := io.ReadAll(r); len(rest) != 0 || err != nil {
				t.Fatalf("after stop the client got %q, %v; want the end of the stream", rest, err)
			}
		})
	}
}

// TestStartupLine: the iterative server's start-up line names every other
// mode a user can give -mode.
func TestStartupLine(t *testing.T) {
	p := start(t, "serve", "-addr", "127.0.0.1:0")
	m := p.waitLine(regexp.MustCompile(`iterative server listening on \S+: one connection at a time \(other modes: -mode (.*)\)`))
	named := strings.Fields(strings.NewReplacer(",", " ", " or ", " ").Replace(m[1]))
	var want []string
	for _, mode := range server.Modes {
		if mode != server.Iterative {
			want = append(want, mode)
		}
	}
	if !slices.Equal(named, want) {
		t.Errorf("the start-up line names the other modes %q, want %q", named, want)
	}
}

// TestEventLoopsKeepTheirP: a server started with GOMAXPROCS 1 (as under
// taskset -c 1) gives itself a P per event loop and one to spare, so that
// its loops wait in epoll_wait keeping theirs (rawwait/rawwait.go); it answers,
// and a signal still stops it.
func TestEventLoopsKeepTheirP(t *testing.T) {
	t.Setenv("GOMAXPROCS", "1")
	for _, loops := range []string{"1", "2"} {
		t.Run(loops, func(t *testing.T) {
			p := start(t, "serve", "-mode", "event", "-loops", loops, "-addr", "127.0.0.1:0")
			m := p.waitLine(regexp.MustCompile(`listening on (\S+): .* (\d+) \(GOMAXPROCS (\d+)\)`))
			if want := strconv.Itoa(mustAtoi(t, loops) + 1); m[2] != loops || m[3] != want {
				t.Fatalf("%s loops, GOMAXPROCS %s; want %s and %s", m[2], m[3], loops, want)
			}
			c, err := net.DialTimeout("tcp", m[1], timeout)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(timeout))
			c.Write([]byte("7\n"))
			if line, err := bufio.NewReader(c).ReadString('\n'); line != "  --> 0\r\n" {
				t.Fatalf("reply %q, %v", line, err)
			}
			p.cmd.Process.Signal(syscall.SIGTERM)
			if status := p.wait(); status != 0 {
				t.Fatalf("status %d after SIGTERM, want 0", status)
			}
		})
	}
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStateRefused: a state file that is not one is refused in one line
// that names it and says what is wrong, status 1, and left as it was.
func TestStateRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter")
	if err := os.WriteFile(path, []byte("counter = 12\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, status := runProgram(t, "", "serve", "-addr", "127.0.0.1:0", "-state", path)
	if status != 1 || strings.Count(out, "\n") != 1 || !strings.Contains(out, path) || !strings.Contains(out, "not a fetchadd state file") {
		t.Fatalf("status %d, %q; want 1 and one line naming %s", status, out, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "counter = 12\n" {
		t.Fatalf("the refused file now holds %q", b)
	}
}

// TestSynopses: each command's -h starts with a synopsis that lists every
// flag it then describes.
func TestSynopses(t *testing.T) {
	for _, cmd := range []string{"local", "serve", "client", "bench"} {
		out, status := runProgram(t, "", cmd, "-h")
		synopsis, rest, _ := strings.Cut(out, "\n")
		flags := regexp.MustCompile(`(?m)^  (-[\w-]+)`).FindAllStringSubmatch(rest, -1)
		if status != 0 || !strings.HasPrefix(synopsis, "usage: fetchadd "+cmd) || (cmd != "local" && len(flags) == 0) {
			t.Fatalf("fetchadd %s -h: status %d, %q", cmd, status, out)
		}
		for _, f := range flags {
			if !strings.Contains(synopsis, "["+f[1]+" ") && !strings.Contains(synopsis, "["+f[1]+"]") {
				t.Errorf("fetchadd %s -h: the synopsis %q lacks %s", cmd, synopsis, f[1])
			}
		}
	}
}

// TestUntilServed: the server's life after a signal. A signal stops it
// and waits for Serve; a second exits at once, status 128+signal; past the
// bound it exits 0 anyway.
func TestUntilServed(t *testing.T) {
	cases := []struct {
		name   string
		before func(served chan error, signals chan os.Signal) // what is there at the start
		onStop func(served chan error, signals chan os.Signal, bound chan struct{})
		status int
		log    string
	}{
		{"serve fails", func(served chan error, _ chan os.Signal) { served <- io.ErrUnexpectedEOF }, nil, 0, ""},
		{"a signal", func(_ chan error, signals chan os.Signal) { signals <- syscall.SIGTERM },
			func(served chan error, _ chan os.Signal, _ chan struct{}) { served <- nil },
			0, "terminated: stopping (again to quit at once)\nstopped\n"},
		{"two signals", func(_ chan error, signals chan os.Signal) { signals <- syscall.SIGTERM },
			func(_ chan error, signals chan os.Signal, _ chan struct{}) { signals <- syscall.SIGINT },
			130, "terminated: stopping (again to quit at once)\ninterrupt again: exiting at once\n"},
		{"a signal, then the bound", func(_ chan error, signals chan os.Signal) { signals <- syscall.SIGINT },
			func(_ chan error, _ chan os.Signal, bound chan struct{}) { close(bound) },
			0, "interrupt: stopping (again to quit at once)\nnot stopped after a second: exiting\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logged bytes.Buffer
			served, signals, bound := make(chan error, 1), make(chan os.Signal, 2), make(chan struct{})
			stopped := 0
			stop := func() {
				stopped++
				tc.onStop(served, signals, bound)
			}
			tc.before(served, signals)
			status, _ := untilServed(log.New(&logged, "", 0), stop, served, signals, func() <-chan struct{} { return bound })
			if status != tc.status || logged.String() != tc.log || (tc.log != "") != (stopped == 1) {
				t.Fatalf("status %d, log %q, Stop called %d times; want %d, %q", status, logged.String(), stopped, tc.status, tc.log)
			}
		})
	}
}

// TestInterrupt: Ctrl-C ends the terminal program and the client quietly,
// status 0, as the handout's program leaves on KeyboardInterrupt. The
// client takes its flags after the address too.
func TestInterrupt(t *testing.T) {
	srv := startServer(t, server.Threaded, "127.0.0.1:0")
	for _, args := range [][]string{{"local"}, {"client", srv.Addr().String(), "-trace"}} {
		t.Run(args[0], func(t *testing.T) {
			p := start(t, args...)
			p.stdin.Write([]byte("5\n"))
			want := "Enter next number:   --> 0\nEnter next number: "
			got := make([]byte, len(want))
			if _, err := io.ReadFull(p.stdout, got); err != nil || string(got) != want {
				t.Fatalf("stdout %q, %v", got, err)
			}
			p.cmd.Process.Signal(syscall.SIGINT)
			if status := p.wait(); status != 0 {
				t.Fatalf("status %d after SIGINT, want 0", status)
			}
			if rest, _ := io.ReadAll(p.stdout); len(rest) > 0 {
				t.Fatalf("printed %q after SIGINT", rest)
			}
		})
	}
}

// TestPortInUse: one line that names the address, status 1, and the
// command that names who listens there; that command, run, names this
// test's listener (where the command is installed).
func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	out, status := runProgram(t, "", "serve", "-addr", addr)
	if status != 1 || strings.Count(out, "\n") != 1 || !strings.Contains(out, addr) || !strings.Contains(out, "bind: address already in use") {
		t.Fatalf("status %d, stderr %q; want 1 and one line naming %s", status, out, addr)
	}
	hint := whoListens(port)
	if !strings.Contains(out, hint+" names it)") {
		t.Fatalf("stderr %q does not suggest %s", out, hint)
	}
	name := strings.Fields(hint)[0]
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("the hint's command, %s, is not installed here", name)
	}
	listing, err := exec.Command("sh", "-c", hint).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", hint, err, listing)
	}
	if !strings.Contains(string(listing), "LISTEN") || !strings.Contains(string(listing), strconv.Itoa(int(port))) {
		t.Errorf("%s does not show the listener on port %d:\n%s", hint, port, listing)
	}
}

// TestClientRefused: nobody listening is one line and status 1.
func TestClientRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // now nobody listens there
	out, status := runProgram(t, "1\n", "client", addr)
	if status != 1 || strings.Count(out, "\n") != 1 || !strings.Contains(out, "connection refused") {
		t.Fatalf("status %d, stderr %q; want 1 and one line saying connection refused", status, out)
	}
}

// The client's trying every address of a name is tested in package
// client (TestDialTriesEveryAddress), with a resolver whose first
// address is dead: here localhost may have one address only.

// TestCommandLine: -h is usage and status 0; anything wrong on the command
// line is one clear line and status 2.
func TestCommandLine(t *testing.T) {
	cases := []struct {
		args   []string
		status int
		says   string
	}{
		{[]string{"-h"}, 0, "Usage:"},
		{[]string{"local", "-h"}, 0, "usage: fetchadd local"},
		{[]string{"serve", "-h"}, 0, "-addr HOST:PORT"},
		{[]string{"client", "-h"}, 0, "usage: fetchadd client"},
		{[]string{}, 2, "Usage:"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"serve", "-x"}, 2, "flag provided but not defined: -x"},
		{[]string{"serve", "-addr"}, 2, "flag needs an argument: -addr"},
		{[]string{"serve", "-addr", "127.0.0.1:65536"}, 2, `port "65536" is not a number from 0 to 65535`},
		{[]string{"serve", "-addr", "127.0.0.1:http"}, 2, `port "http" is not a number`},
		{[]string{"serve", "-addr", "[::1"}, 2, "missing ']'"},
		{[]string{"serve", "-addr", "no.such.host.invalid:1"}, 2, `address "no.such.host.invalid:1"`},
		{[]string{"serve", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"serve", "-mode", "forking"}, 2, `unknown mode "forking"`},
		{[]string{"serve", "-mode"}, 2, "flag needs an argument: -mode"},
		{[]string{"serve", "-idle", "-1s"}, 2, "-idle -1s"},
		{[]string{"serve", "-idle", "soon"}, 2, `invalid value "soon" for flag -idle`},
		{[]string{"serve", "-mode", "threaded", "-max-conns", "6000"}, 2, "at most 5000"},
		{[]string{"serve", "-max-conns", "-3"}, 2, "-max-conns -3"},
		{[]string{"serve", "-loops", "5000"}, 2, "5000 loops"},
		{[]string{"serve", "-addr", "1.2.3.4.5:80"}, 2, `address "1.2.3.4.5:80"`},
		{[]string{"bench", "-proto", "smtp"}, 2, `unknown protocol "smtp"`},
		{[]string{"bench", "-c", "0"}, 2, "must be at least 1"},
		{[]string{"bench", "-timeout", "0s"}, 2, "-timeout 0s: want more than 0"},
		// "::1:0" is an IPv6 address, but was meant as [::1]:0: every
		// command that takes an address refuses it, with the hint.
		{[]string{"serve", "-addr", "::1:0"}, 2, "write [::1]:0 for address ::1 and port 0"},
		{[]string{"client", "::1:0"}, 2, "write [::1]:0 for address ::1 and port 0"},
		{[]string{"bench", "::1:0"}, 2, "write [::1]:0 for address ::1 and port 0"},
		{[]string{"local", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"client", "a", "b"}, 2, `unexpected argument "b"`},
		{[]string{"client", "127.0.0.1:-1"}, 2, `port "-1"`},
		{[]string{"client", "127.0.0.1:-1", "-trace"}, 2, `port "-1"`}, // flags after the address
		{[]string{"client", "127.0.0.1:1", "-x"}, 2, "flag provided but not defined: -x"},
		{[]string{"client", "a", "--", "-trace"}, 2, `unexpected argument "-trace"`},
		{[]string{"serve", "-state-reset"}, 2, "-state-reset: give the file with -state FILE"},
	}
	for _, tc := range cases {
		out, status := runProgram(t, "", tc.args...)
		if status != tc.status || !strings.Contains(out, tc.says) {
			t.Errorf("fetchadd %q: status %d, stderr %q; want %d and %q", tc.args, status, out, tc.status, tc.says)
		}
		if status == 2 && tc.status == 2 && len(tc.args) > 0 && strings.Count(out, "\n") > 2 {
			t.Errorf("fetchadd %q: %d lines of error, want one line", tc.args, strings.Count(out, "\n"))
		}
	}
}

// runProgram runs fetchadd to completion and returns its stderr (with
// stdout after it, for -h) and status.
func runProgram(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := command(args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stderr = &out
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	var exit *exec.ExitError
	status := 0
	if errors.As(err, &exit) {
		status = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String() + stdout.String(), status
}
