package main

// End-to-end tests: the real server on an ephemeral loopback port, driven
// over real sockets (package net plays the client: an independent peer for
// fetchadd's own socket code), and the real program as a child process.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"fetchadd/bench"
	"fetchadd/fetchadd"
	"fetchadd/internal/testwait"
	"fetchadd/server"
)

// TestMain lets the test binary stand in for the fetchadd program: with
// FETCHADD_MAIN=1 in its environment it runs main's code on its arguments.
// FETCHADD_NOFILE=N first lowers its descriptor limit to N (Go raises the
// soft limit to the hard one at start, so both are set);
// FETCHADD_COUNT_SIGPIPE=1 makes it count the SIGPIPEs it gets and log
// the count when run returns.
func TestMain(m *testing.M) {
	if os.Getenv("FETCHADD_MAIN") == "1" {
		if n, err := strconv.ParseUint(os.Getenv("FETCHADD_NOFILE"), 10, 64); err == nil {
			if err := setNofile(n); err != nil {
				fmt.Fprintln(os.Stderr, "setrlimit:", err)
				os.Exit(3)
			}
		}
		if os.Getenv("FETCHADD_COUNT_SIGPIPE") != "1" {
			os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		}
		// Go turns SIGPIPE on a socket into EPIPE by itself, unless the
		// program asks for the signal: ask, so that a send without
		// MSG_NOSIGNAL (SO_NOSIGPIPE) shows, and count them at the end.
		sigpipes := make(chan os.Signal, 1000)
		signal.Notify(sigpipes, syscall.SIGPIPE)
		status := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		fmt.Fprintf(os.Stderr, "test harness: %d SIGPIPE\n", len(sigpipes))
		os.Exit(status)
	}
	os.Exit(m.Run())
}

// timeout bounds every wait in these tests; none of them sleeps.
const timeout = 10 * time.Second

// loopbacks are the addresses every server test runs on.
var loopbacks = []string{"127.0.0.1:0", "[::1]:0"}

// startServer runs a server in mode on addr until the test ends. The event
// and uring modes run three loops, more than this machine may have CPUs,
// so that connections are handed from loop to loop.
func startServer(t *testing.T, mode, addr string) *server.Server {
	t.Helper()
	return startConfig(t, server.Config{Addr: netip.MustParseAddrPort(addr), Mode: mode})
}

func startConfig(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	if (cfg.Mode == server.Event || cfg.Mode == server.Uring) && cfg.Loops == 0 {
		cfg.Loops = 3
	}
	srv, err := server.Listen(cfg)
	if err != nil {
		skipRefused(t, err)
		if cfg.Addr.Addr().Is6() && (errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT)) {
			t.Skipf("no IPv6 loopback here: %v", err)
		}
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	t.Cleanup(func() {
		srv.Stop()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(timeout):
			t.Errorf("Serve did not return after Stop")
		}
	})
	return srv
}

// conn is a test client.
type conn struct {
	t *testing.T
	c *net.TCPConn
	r *bufio.Reader
}

func dial(t *testing.T, srv *server.Server) *conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", srv.Addr().String(), timeout)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(timeout))
	t.Cleanup(func() { c.Close() })
	return &conn{t, c.(*net.TCPConn), bufio.NewReader(c)}
}

func (c *conn) send(s string) {
	c.t.Helper()
	if _, err := c.c.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// expect reads len(want) reply lines and compares them.
func (c *conn) expect(want ...string) {
	c.t.Helper()
	for i, w := range want {
		got, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reply %d of %d: %v (got %q)", i+1, len(want), err, got)
		}
		if got != w+"\r\n" {
			c.t.Fatalf("reply %d: got %q, want %q", i+1, got, w+"\r\n")
		}
	}
}

// expectEOF checks that the server closed the connection with nothing more.
func (c *conn) expectEOF() {
	c.t.Helper()
	rest, err := io.ReadAll(c.r)
	if err != nil || len(rest) > 0 {
		c.t.Fatalf("want end of stream, got %q, %v", rest, err)
	}
}

// replies returns the replies the handout's program gives to lines,
// starting from the counter at 0: the oracle for the server tests.
func replies(lines ...int64) []string {
	var out []string
	var v int64
	for _, n := range lines {
		out = append(out, fmt.Sprintf("  --> %d", v))
		v += n
	}
	return out
}

// forEachServer runs f against a fresh server in each mode on each
// loopback address.
func forEachServer(t *testing.T, f func(t *testing.T, srv *server.Server)) {
	forModes(t, server.Modes, f)
}

func forModes(t *testing.T, modes []string, f func(t *testing.T, srv *server.Server)) {
	for _, mode := range modes {
		for _, addr := range loopbacks {
			t.Run(mode+"/"+addr, func(t *testing.T) { f(t, startServer(t, mode, addr)) })
		}
	}
}

func TestServerAnswers(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server.Server) {
		c := dial(t, srv)
		c.send("5\n")
		c.expect("  --> 0")
		c.send("3\r\nx\r\n-7\n")
		c.expect("  --> 5", "!!!!", "  --> 8")
		c.send("\n \r\n1_0\n٣\n")
		c.expect("!!!!", "!!!!", "  --> 1", "!!!!")
	})
}

func TestServerPipelined(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server.Server) {
		const n = 5000 // ~10 KiB in one write, ~50 KiB of replies
		c := dial(t, srv)
		c.send(strings.Repeat("1\n", n))
		for i := 0; i < n; i++ {
			c.expect(fmt.Sprintf("  --> %d", i))
		}
	})
}

// TestServerSplitWrites: a request cut anywhere, even into single bytes,
// is the same request.
func TestServerSplitWrites(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server.Server) {
		c := dial(t, srv)
		c.c.SetNoDelay(true)
		req := "12\r\n-3\n+4_0\r\n"
		var want []int64
		for cut := 0; cut <= len(req); cut++ {
			c.send(req[:cut])
			c.send(req[cut:])
			want = append(want, 12, -3, 40)
		}
		for i := 0; i < len(req); i++ {
			c.send(req[i : i+1])
		}
		want = append(want, 12, -3, 40)
		c.expect(replies(want...)...)
	})
}

func TestServerLongLines(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server.Server) {
		c := dial(t, srv)
		// 16384 bytes before the LF is still a line; 16385 is too long.
		c.send(strings.Repeat(" ", 16383) + "1\n")
		c.expect("  --> 0")
		c.send(strings.Repeat(" ", 16384) + "1\n2\n")
		c.expect("!!!!", "  --> 1")
		// 1 MiB with no LF in it is one bad line, answered once.
		c.send(strings.Repeat("9", 1<<20) + "\n3\n")
		c.expect("!!!!", "  --> 3")
	})
}

func TestServerHalfClose(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server.Server) {
		for i, last := range []string{"5\n", "5"} {
			c := dial(t, srv)
			c.send("1\n" + last)
			c.c.CloseWrite()
			c.expect(fmt.Sprintf("  --> %d", 6*i), fmt.Sprintf("  --> %d", 6*i+1))
			c.expectEOF()
		}
	})
}

func TestServerClientsShareCounter(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *server.Server) {
		c1 := dial(t, srv)
		c1.send("5\n")
		c1.expect("  --> 0")
		c1.c.Close()
		c2 := dial(t, srv)
		c2.send("1\n")
		c2.expect("  --> 5")
	})
}

// TestIterativeOneAtATime is the lab's lesson: while one client is served
// a second one connects (the kernel completes its handshake and queues it
// in the listen backlog), but its line is only answered once the first
// client has gone.
func TestIterativeOneAtATime(t *testing.T) {
	forModes(t, []string{server.Iterative}, func(t *testing.T, srv *server.Server) {
		first := dial(t, srv)
		first.send("1\n")
		first.expect("  --> 0")

		second := dial(t, srv) // connect succeeds: the backlog took it
		second.send("10\n")

		// The first client is still served, and its line comes after the
		// second's in time: it gets 1, so the second's 10 was not added.
		first.send("1\n")
		first.expect("  --> 1")
		second.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if b, err := second.r.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("second client got %q, %v while the first is served", b, err)
		}
		second.c.SetReadDeadline(time.Now().Add(timeout))

		first.c.Close()
		second.expect("  --> 2")
	})
}

// TestConcurrentModesServeTwoAtOnce: in the other modes, a second client
// is served while the first stays connected.
func TestConcurrentModesServeTwoAtOnce(t *testing.T) {
	forModes(t, []string{server.Threaded, server.Poll, server.Event, server.Uring}, func(t *testing.T, srv *server.Server) {
		first := dial(t, srv)
		first.send("1\n")
		first.expect("  --> 0")
		second := dial(t, srv)
		second.send("10\n")
		second.expect("  --> 1")
		first.send("1\n")
		first.expect("  --> 11")
	})
}

// TestMaxConns: past the limit a client gets one line saying why, and the
// end of the stream; when a connection closes, there is room again.
func TestMaxConns(t *testing.T) {
	for _, mode := range []string{server.Threaded, server.Poll, server.Event, server.Uring} {
		t.Run(mode, func(t *testing.T) {
			srv := startConfig(t, server.Config{Addr: netip.MustParseAddrPort("127.0.0.1:0"), Mode: mode, MaxConns: 2})
			a, b := dial(t, srv), dial(t, srv)
			a.send("1\n")
			a.expect("  --> 0")
			b.send("1\n")
			b.expect("  --> 1")
			c := dial(t, srv)
			c.expect("!!!! server busy: 2 connections, its limit; try again later")
			c.expectEOF()
			a.c.Close()
			// Room again once the server has seen a go: retry until it has.
			for i := 0; ; i++ {
				d := dial(t, srv)
				d.send("1\n")
				line, _ := d.r.ReadString('\n')
				if line == "  --> 2\r\n" {
					break
				}
				if !strings.Contains(line, "busy") || i == 1000 {
					t.Fatalf("after a close: %q", line)
				}
				d.c.Close()
			}
		})
	}
}

// TestLinearizable: many connections, each sending many pipelined lines
// of 1 at once, get replies that are all different and together exactly
// 0..N-1, and the counter ends at N: every fetch-and-add was atomic and
// none was lost or repeated.
func TestLinearizable(t *testing.T) {
	const clients, lines = 8, 2000
	forModes(t, server.Modes, func(t *testing.T, srv *server.Server) {
		got := make(chan []int64, clients)
		errs := make(chan error, clients)
		for i := 0; i < clients; i++ {
			go func() {
				vals, err := pipeline(srv.Addr().String(), lines)
				got <- vals
				errs <- err
			}()
		}
		seen := make([]bool, clients*lines)
		for i := 0; i < clients; i++ {
			if err := testwait.Recv(t, errs, "a client's pipeline"); err != nil {
				t.Fatal(err)
			}
			for _, v := range testwait.Recv(t, got, "a client's values") {
				if v < 0 || v >= int64(len(seen)) || seen[v] {
					t.Fatalf("value %d out of range or handed out twice", v)
				}
				seen[v] = true
			}
		}
		if v := srv.Counter().Value(); v.Int64() != clients*lines {
			t.Fatalf("counter %v, want %d", v, clients*lines)
		}
	})
}

// pipeline sends n lines of 1 in one write, reads the n replies, and
// returns the values in them.
func pipeline(addr string, n int) ([]int64, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(strings.Repeat("1\n", n))); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	vals := make([]int64, 0, n)
	for i := 0; i < n; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("reply %d: %w", i, err)
		}
		var v int64
		if _, err := fmt.Sscanf(line, "  --> %d\r\n", &v); err != nil {
			return nil, fmt.Errorf("reply %q: %w", line, err)
		}
		vals = append(vals, v)
	}
	return vals, nil
}

// TestBench: the load generator against every mode counts every reply and
// finds them all different.
func TestBench(t *testing.T) {
	forModes(t, server.Modes, func(t *testing.T, srv *server.Server) {
		srv.Counter().Add(fetchadd.Int(1000)) // the check must start where the counter is
		res, err := bench.Run(bench.Config{Addr: srv.Addr().String(), Conns: 4, Depth: 8, Requests: 5003, Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 5003 || res.Errors != 0 || !res.Distinct || res.Base != 1000 {
			t.Fatalf("requests %d errors %d distinct %v base %d; want 5003, 0, true, 1000", res.Requests, res.Errors, res.Distinct, res.Base)
		}
		if v := srv.Counter().Value(); v.Int64() != 6003 {
			t.Fatalf("counter %v, want 6003", v)
		}
	})
}

// goldens are the transcripts of the handout's program, produced by
// testdata/golden/regen.sh from NAME.in.
func goldens(t *testing.T) []string {
	names, err := filepath.Glob("testdata/golden/*.in")
	if err != nil || len(names) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	return names
}

func readGolden(t *testing.T, in string) (input, output []byte) {
	t.Helper()
	input, err := os.ReadFile(in)
	if err == nil {
		output, err = os.ReadFile(strings.TrimSuffix(in, ".in") + ".out")
	}
	if err != nil {
		t.Fatal(err)
	}
	return input, output
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// TestLocalGolden: fetchadd local prints what the handout's program prints.
func TestLocalGolden(t *testing.T) {
	for _, in := range goldens(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			input, want := readGolden(t, in)
			var out, errOut bytes.Buffer
			if status := run([]string{"local"}, bytes.NewReader(input), &out, &errOut); status != 0 {
				t.Fatalf("status %d: %s", status, errOut.String())
			}
			diffTranscript(t, out.Bytes(), want)
		})
	}
}

// TestRunLeavesNoGoroutine: run, called in-process as the tests do,
// leaves nothing behind, such as the goroutine that waits for Ctrl-C.
func TestRunLeavesNoGoroutine(t *testing.T) {
	before := -1
	for i := 0; i <= 20; i++ {
		if i == 1 { // after the first run: os/signal starts a goroutine of its own, once
			before = runtime.NumGoroutine()
		}
		var out, errOut bytes.Buffer
		if status := run([]string{"local"}, strings.NewReader("1\n"), &out, &errOut); status != 0 {
			t.Fatalf("status %d: %s", status, errOut.String())
		}
	}
	// The goroutines are told to end as run returns; give them a
	// bounded number of turns to do so.
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i == 10000 {
			t.Fatalf("%d goroutines after 20 runs, %d before", runtime.NumGoroutine(), before)
		}
		runtime.Gosched()
	}
}

// TestClientGolden: for ASCII input, fetchadd client against a fresh
// server, in every mode, prints what the handout's program prints.
func TestClientGolden(t *testing.T) {
	for _, in := range goldens(t) {
		input, want := readGolden(t, in)
		if !isASCII(input) {
			continue // the wire is ASCII: int(b'\xd9\xa3') is not 3
		}
		forModes(t, server.Modes, func(t *testing.T, srv *server.Server) {
			var out, errOut bytes.Buffer
			if status := run([]string{"client", srv.Addr().String()}, bytes.NewReader(input), &out, &errOut); status != 0 {
				t.Fatalf("status %d: %s", status, errOut.String())
			}
			diffTranscript(t, out.Bytes(), want)
		})
	}
}

func diffTranscript(t *testing.T, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	g, w := strings.SplitAfter(string(got), "\n"), strings.SplitAfter(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		if i >= len(g) || i >= len(w) || g[i] != w[i] {
			var gl, wl string
			if i < len(g) {
				gl = g[i]
			}
			if i < len(w) {
				wl = w[i]
			}
			t.Fatalf("transcripts differ at line %d:\n got  %.80q\n want %.80q", i+1, gl, wl)
		}
	}
}

// roundTrip sends lines and checks the replies to them.
func roundTrip(t *testing.T, conn net.Conn, r *bufio.Reader, send string, want ...string) {
	t.Helper()
	if _, err := conn.Write([]byte(send)); err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		got, err := r.ReadString('\n')
		if err != nil || got != w+"\r\n" {
			t.Fatalf("sent %.30q: got %q, %v; want %q", send, got, err, w)
		}
	}
}
