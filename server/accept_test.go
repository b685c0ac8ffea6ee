package server

// Tests of accepting: the pause when the process is out of descriptors,
// and the hand-off of connections to the loops in turn.

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAcceptPauses: when accept fails for want of descriptors (EMFILE) or
// of kernel memory (ENOBUFS),
// the server accepts nothing for acceptPauseTime, then tries again, in
// every mode that calls accept(2) (the uring mode's accept is an
// operation of the ring: TestUringAcceptPause). A loop that left the
// listening socket in its poller would try again at once, spinning, which
// the CPU time TestOutOfDescriptors reads (10 ms ticks) cannot see within
// one pause: the times of the accept calls can. Load only lengthens the
// pauses, so the test asserts that each is at least the pause. (A signal
// that interrupts the blocking modes' poll does not end their pause early:
// TestAcceptPauseOutlastsSignals.)
func TestAcceptPauses(t *testing.T) {
	const failures = 3
	real := accept
	defer func() { accept = real }()
	var mu sync.Mutex
	var calls []time.Time
	var errno unix.Errno
	accept = func(fd int, nonblock bool) (int, unix.Sockaddr, error) {
		mu.Lock()
		calls = append(calls, time.Now())
		n := len(calls)
		mu.Unlock()
		if n <= failures {
			return -1, nil, os.NewSyscallError("accept4", errno)
		}
		return real(fd, nonblock)
	}
	for _, mode := range []string{Iterative, Threaded, Poll, Event} {
		for _, e := range []unix.Errno{unix.EMFILE, unix.ENOBUFS} {
			t.Run(fmt.Sprintf("%s/%s", mode, unix.ErrnoName(e)), func(t *testing.T) {
				mu.Lock()
				calls, errno = nil, e
				mu.Unlock()
				srv, logs, stop := serve(t, Config{Mode: mode, Loops: 1})
				defer stop()
				c := dial(t, srv)
				fmt.Fprintf(c, "5\n")
				if line, err := bufio.NewReader(c).ReadString('\n'); line != "  --> 0\r\n" {
					t.Fatalf("after %d accepts that failed: %q, %v; log:\n%s", failures, line, err, logs.String())
				}
				mu.Lock()
				defer mu.Unlock()
				if len(calls) <= failures {
					t.Fatalf("%d accept calls, want %d failed and one more", len(calls), failures)
				}
				for i := 1; i <= failures; i++ {
					if gap := calls[i].Sub(calls[i-1]); gap < acceptPauseTime {
						t.Fatalf("accept %d came %v after accept %d failed with %v; want a pause of %v", i+1, gap, i, errno, acceptPauseTime)
					}
				}
				if n := strings.Count(logs.String(), "not accepting for"); n != failures {
					t.Fatalf("%d pauses logged, want %d:\n%s", n, failures, logs.String())
				}
			})
		}
	}
}

// TestHandOutInTurn: loop 0 hands the connections it accepts to the
// loops in turn, itself included: three connections to three loops, one
// each (the log says which loop serves a connection).
func TestHandOutInTurn(t *testing.T) {
	for _, mode := range []string{Event, Uring} {
		t.Run(mode, func(t *testing.T) {
			const loops = 3
			srv, logs, stop := serve(t, Config{Mode: mode, Loops: loops})
			defer stop()
			for i := 0; i < loops; i++ {
				c, err := net.DialTimeout("tcp", srv.Addr().String(), timeout)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				// A reply: the connection is registered in its loop, and logged.
				c.SetDeadline(time.Now().Add(timeout))
				fmt.Fprintf(c, "1\n")
				if line, err := bufio.NewReader(c).ReadString('\n'); line != fmt.Sprintf("  --> %d\r\n", i) {
					t.Fatalf("connection %d: %q, %v", i, line, err)
				}
			}
			for i := 0; i < loops; i++ {
				if n := strings.Count(logs.String(), fmt.Sprintf("(loop %d)", i)); n != 1 {
					t.Errorf("loop %d serves %d of the %d connections, want 1; log:\n%s", i, n, loops, logs.String())
				}
			}
		})
	}
}
