package server

// Tests of the server's edges from the inside: what a client cannot make
// the kernel do on demand (accept failing with ECONNABORTED), what it
// cannot see (the replies a loop holds), and stopping while clients come.

import (
	"bufio"
	"bytes"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

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
	for _, mode := range []string{Poll, Event} {
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
					<-dialed // half the time, stop only after the clients came
				}
				stop()
				<-dialed
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
			srv, logs, stop := serve(t, Config{Mode: mode, Loops: 1})
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
			// The third connection is served.
			c := conns[2]
			c.SetDeadline(time.Now().Add(timeout))
			fmt.Fprintf(c, "5\n")
			if line, err := bufio.NewReader(c).ReadString('\n'); line != "  --> 0\r\n" {
				t.Fatalf("after two aborted connections: %q, %v; log:\n%s", line, err, logs.String())
			}
			if strings.Contains(logs.String(), "abort") {
				t.Fatalf("the server logged an aborted connection as an error:\n%s", logs.String())
			}
		})
	}
}

// TestLoopHoldsBoundedReplies: a client that sends lines and never reads
// the replies makes a loop hold at most outLimit of replies (and one
// reply more) and one read of requests; then the loop stops reading it.
func TestLoopHoldsBoundedReplies(t *testing.T) {
	for _, mode := range []string{Poll, Event} {
		t.Run(mode, func(t *testing.T) {
			srv, err := Listen(Config{Addr: netip.MustParseAddrPort("127.0.0.1:0"), Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer sock.Close(srv.lfd)
			l, err := srv.newLoop(0)
			if err != nil {
				t.Fatal(err)
			}
			defer l.close()
			client, err := net.DialTimeout("tcp", srv.Addr().String(), timeout)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			fd, peer, err := sock.Accept(srv.lfd, true)
			if err != nil {
				t.Fatal(err)
			}
			l.register(accepted{fd, peer})
			c := l.conns[fd]
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
					if ev.Fd == fd {
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
