package server

// Tests of the server's edges from the inside: what a client cannot make
// the kernel do on demand (accept failing with ECONNABORTED), what it
// cannot see (the replies a loop holds), and stopping while clients come.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"fetchadd/internal/testwait"
	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

const timeout = 10 * time.Second

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// serve runs a server with cfg on a loopback port and returns it, its log
// and a function that stops it and waits for Serve.
func serve(t *testing.T, cfg Config) (*Server, *syncBuffer, func()) {
	t.Helper()
	logs := new(syncBuffer)
	cfg.Addr = netip.MustParseAddrPort("127.0.0.1:0")
	cfg.Log = log.New(logs, "", 0)
	srv, err := Listen(cfg)
	if err != nil {
		skipRefused(t, err)
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	stop := func() {
		srv.Stop()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(timeout):
			t.Fatalf("Serve did not return after Stop")
		}
	}
	return srv, logs, stop
}

// openFds counts the process's open descriptors.
func openFds(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestStopCycles starts and stops servers of the poll and event modes
// hundreds of times while a client keeps connecting: no loop may write to
// a wake pipe that has been closed (a byte could go to another
// descriptor given the same number), no connection handed to a stopped
// loop may be left open, and no descriptor may be left behind.
func TestStopCycles(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc/self/fd, which is Linux's")
	}
	for _, mode := range []string{Poll, Event, Uring} {
		t.Run(mode, func(t *testing.T) {
			before := openFds(t)
			for i := 0; i < 300; i++ {
				srv, logs, stop := serve(t, Config{Mode: mode, Loops: 3})
				// A client connects while the server stops: loop 0 may
				// accept it and hand it to a loop that has ended.
				dialed := make(chan struct{})
				go func() {
					defer close(dialed)
					for j := 0; j < 4; j++ {
						if c, err := net.DialTimeout("tcp", srv.Addr().String(), timeout); err == nil {
							c.Close()
						}
					}
				}()
				if i%2 == 0 {
					testwait.Recv(t, dialed, "the clients") // half the time, stop only after the clients came
				}
				stop()
				testwait.Recv(t, dialed, "the clients")
				if strings.Contains(logs.String(), "waking loop") {
					t.Fatalf("cycle %d: %s", i, logs.String())
				}
			}
			if after := openFds(t); after != before {
				t.Fatalf("%d descriptors open after 300 cycles, %d before", after, before)
			}
		})
	}
}

// TestAcceptAborted: a client that resets its connection before accept
// takes it makes accept fail with ECONNABORTED (on some systems; Linux
// hands the dead connection over instead). The server skips it, says
// nothing, and accepts the next one.
func TestAcceptAborted(t *testing.T) {
	real := accept
	defer func() { accept = real }()
	var mu sync.Mutex
	aborts := 0
	accept = func(fd int, nonblock bool) (int, unix.Sockaddr, error) {
		nfd, sa, err := real(fd, nonblock)
		mu.Lock()
		defer mu.Unlock()
		if err == nil && aborts < 2 { // the first two connections "left"
			aborts++
			sock.Close(nfd)
			return -1, nil, os.NewSyscallError("accept4", unix.ECONNABORTED)
		}
		return nfd, sa, err
	}
	for _, mode := range Modes {
		t.Run(mode, func(t *testing.T) {
			mu.Lock()
			aborts = 0
			mu.Unlock()
			thirdServed(t, Config{Mode: mode, Loops: 1})
		})
	}
}

// thirdServed connects three clients to a server whose first two accepts
// fail with ECONNABORTED, and checks that the third is served and nothing
// about the aborted ones is logged.
func thirdServed(t *testing.T, cfg Config) {
	t.Helper()
	srv, logs, stop := serve(t, cfg)
	defer stop()
	var conns []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp", srv.Addr().String(), timeout)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	c := conns[2]
	c.SetDeadline(time.Now().Add(timeout))
	fmt.Fprintf(c, "5\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); line != "  --> 0\r\n" {
		t.Fatalf("after two aborted connections: %q, %v; log:\n%s", line, err, logs.String())
	}
	if strings.Contains(logs.String(), "abort") {
		t.Fatalf("the server logged an aborted connection as an error:\n%s", logs.String())
	}
}

// TestLoopHoldsBoundedReplies: a client that sends lines and never reads
// the replies makes a loop hold at most outLimit of replies (and one
// reply more) and one read of requests; then the loop stops reading it.
func TestLoopHoldsBoundedReplies(t *testing.T) {
	for _, mode := range []string{Poll, Event} {
		t.Run(mode, func(t *testing.T) {
			srv, l := listenLoop(t, Config{Mode: mode}, 0)
			c, client := loopConn(t, srv, l)
			defer l.closeDead()
			defer l.kill(c, nil)

			// 4 MB of requests: far more than the socket buffers, the
			// replies and a read take together.
			go func() {
				client.SetWriteDeadline(time.Now().Add(timeout))
				client.Write([]byte(strings.Repeat("1\n", 2<<20)))
			}()
			// Run the loop's own event handling until it stops reading.
			for deadline := time.Now().Add(timeout); c.reading; {
				if time.Now().After(deadline) {
					t.Fatalf("the loop still reads, holding %d bytes of replies and %d of requests", len(c.out), len(c.in))
				}
				events, err := l.poller.Wait(100)
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range events {
					if ev.Fd == c.fd {
						l.handle(ev)
					}
				}
			}
			if len(c.out) > outLimit+len("  --> 4194304\r\n") || len(c.in) > loopReadSize {
				t.Fatalf("the loop holds %d bytes of replies (limit %d) and %d of requests (one read: %d)", len(c.out), outLimit, len(c.in), loopReadSize)
			}
		})
	}
}

// TestStopUnreadReplies: a client that sends and never reads its replies
// does not keep Stop from ending Serve, in any mode, with or without an
// idle time.
func TestStopUnreadReplies(t *testing.T) {
	for _, mode := range Modes {
		for _, idle := range []time.Duration{0, time.Hour} {
			t.Run(fmt.Sprintf("%s/idle=%v", mode, idle), func(t *testing.T) {
				srv, logs, stop := serve(t, Config{Mode: mode, Idle: idle, Loops: 1})
				c, err := net.DialTimeout("tcp", srv.Addr().String(), timeout)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				// Until the buffers are full both ways: the server waits
				// for room to send. (A write deadline watches for that.)
				chunk := []byte(strings.Repeat("1\n", 1<<15))
				for {
					c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
					if _, err := c.Write(chunk); err != nil {
						break
					}
				}
				stop() // fails the test if Serve does not return
				if strings.Contains(logs.String(), "panic") {
					t.Fatal(logs.String())
				}
			})
		}
	}
}

// TestStopAfterServe: once Serve has returned, Stop touches no
// descriptor: their numbers may belong to new ones.
func TestStopAfterServe(t *testing.T) {
	for _, mode := range Modes {
		t.Run(mode, func(t *testing.T) {
			srv, _, stop := serve(t, Config{Mode: mode, Loops: 1})
			stop()
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0) // may take the old numbers
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fds[0])
			defer unix.Close(fds[1])
			srv.Stop() // again: Serve has returned
			if _, err := unix.Write(fds[0], []byte("x")); err != nil {
				t.Fatalf("a descriptor opened after Serve returned was shut down: %v", err)
			}
			b := make([]byte, 1)
			if n, err := unix.Read(fds[1], b); n != 1 || err != nil {
				t.Fatalf("a descriptor opened after Serve returned: read %d, %v", n, err)
			}
		})
	}
}

// TestHandOverToStoppedLoop: a connection handed to a loop that has
// stopped is closed and uncounted, not left in its inbox.
func TestHandOverToStoppedLoop(t *testing.T) {
	srv, l := listenLoop(t, Config{Mode: Event, Loops: 2}, 1)
	l.stop()
	handOverToStopped(t, srv, l)
}

// handOverToStopped hands a connection to loop l, which has stopped, and
// checks that it is closed and uncounted, not left in l's inbox.
func handOverToStopped(t *testing.T, srv *Server, l *loop) {
	t.Helper()
	handOverThenStop(t, srv, l, func() {})
}

// TestStopClosesInbox: a connection handed to a loop that stops before
// taking it from its inbox is closed and uncounted when the loop stops.
func TestStopClosesInbox(t *testing.T) {
	srv, l := listenLoop(t, Config{Mode: Event, Loops: 2}, 1)
	handOverThenStop(t, srv, l, l.stop)
}

// handOverThenStop hands a connection to loop l, then calls stop, which
// stops l if it has not stopped yet, and checks that the connection is
// closed and uncounted, not left in l's inbox.
func handOverThenStop(t *testing.T, srv *Server, l *loop, stop func()) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	srv.active.Add(1) // as deal counts it
	l.handOver(accepted{fd: fds[0]})
	stop()
	if len(l.inbox) != 0 || srv.active.Load() != 0 {
		t.Fatalf("inbox %d, active %d after a hand-off to a stopped loop; want 0, 0", len(l.inbox), srv.active.Load())
	}
	if n, err := unix.Read(fds[1], make([]byte, 1)); n != 0 || err != nil {
		t.Fatalf("the handed connection is still open: read %d, %v", n, err)
	}
}

// listenLoop makes a server with cfg on a loopback port, and its loop id,
// which the test runs by hand; both are closed when the test ends.
func listenLoop(t *testing.T, cfg Config, id int) (*Server, *loop) {
	t.Helper()
	cfg.Addr = netip.MustParseAddrPort("127.0.0.1:0")
	srv, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.closeListener)
	l, err := srv.newLoop(id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.close)
	return srv, l
}

// dial connects to srv, for the rest of the test: the connection is
// closed when the test ends, and every read and write on it has the
// test's timeout.
func dial(t *testing.T, srv *Server) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", srv.Addr().String(), timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(timeout))
	return c
}

// loopConn registers in loop l a connection accepted from srv's listening
// socket, and returns it with the client's end.
func loopConn(t *testing.T, srv *Server, l *loop) (*conn, net.Conn) {
	t.Helper()
	client, err := net.DialTimeout("tcp", srv.Addr().String(), timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	fd, peer, err := sock.Accept(srv.lfd, true)
	if err != nil {
		t.Fatal(err)
	}
	l.register(accepted{fd, peer})
	return l.conns[fd], client
}

// TestIdleLineNotWithReplies: a loop closes an idle connection that has
// replies waiting without the idle line, even when the line would fit:
// the client would read it in the middle of its replies.
func TestIdleLineNotWithReplies(t *testing.T) {
	srv, l := listenLoop(t, Config{Mode: Event, Loops: 1, Idle: time.Second}, 0)
	waiting, waitingClient := loopConn(t, srv, l)
	quiet, quietClient := loopConn(t, srv, l)
	waiting.out = []byte("  --> 1") // the start of a reply the socket did not take
	l.now = time.Now().Add(time.Hour)
	l.closeIdle()
	l.closeDead()
	for _, tc := range []struct {
		c    net.Conn
		want string
	}{{waitingClient, ""}, {quietClient, "!!!! idle for 1s: closing\r\n"}} {
		tc.c.SetReadDeadline(time.Now().Add(timeout))
		if got, err := io.ReadAll(tc.c); string(got) != tc.want || err != nil {
			t.Errorf("got %q, %v; want %q", got, err, tc.want)
		}
	}
	_ = quiet
}

// TestBudgetGivenBack: what a connection held of an unfinished line is
// given back to the server's budget when the connection ends without
// ending the line (a reset), in every mode.
func TestBudgetGivenBack(t *testing.T) {
	for _, mode := range Modes {
		t.Run(mode, func(t *testing.T) {
			srv, logs, stop := serve(t, Config{Mode: mode, Loops: 1})
			defer stop()
			c, err := net.DialTimeout("tcp", srv.Addr().String(), timeout)
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte(strings.Repeat("7", 3000))) // held: a sign and 3000 digits
			c.Write([]byte("\n1"))                     // then a line ends, and a short one starts
			c.SetReadDeadline(time.Now().Add(timeout))
			if line, err := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(line, "  --> ") {
				t.Fatalf("%q, %v", line, err)
			}
			c.(*net.TCPConn).SetLinger(0) // a reset: the server never sees the line end
			c.Close()
			for deadline := time.Now().Add(timeout); !strings.Contains(logs.String(), "went away"); {
				if time.Now().After(deadline) {
					t.Fatalf("the server did not close the connection; log:\n%s", logs.String())
				}
				runtime.Gosched()
			}
			if held := srv.budget.Held(); held != 0 {
				t.Fatalf("the budget counts %d bytes held after the connection closed", held)
			}
		})
	}
}

// TestThreadedLimit: the threaded mode serves up to MaxThreads
// connections at once, and refuses a limit one more.
func TestThreadedLimit(t *testing.T) {
	if err := CheckConfig(Config{Mode: Threaded, MaxConns: MaxThreads}); err != nil {
		t.Errorf("-max-conns %d: %v; want it allowed", MaxThreads, err)
	}
	if err := CheckConfig(Config{Mode: Threaded, MaxConns: MaxThreads + 1}); err == nil {
		t.Errorf("-max-conns %d allowed in the threaded mode; want at most %d", MaxThreads+1, MaxThreads)
	}
}
