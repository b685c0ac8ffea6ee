package bench

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fetchadd/internal/testwait"
	"fetchadd/poller"
)

// TestRunClosesEverything: whether Run succeeds or fails, and wherever it
// fails, the process has the descriptors it had before: every poller and
// socket Run opened is closed. Failures come from servers that are not
// there or go away, and from making each call that opens a descriptor
// (a connection, a poller) fail in turn.
func TestRunClosesEverything(t *testing.T) {
	warmUpNet(t)
	cfg := Config{Conns: 5, Depth: 2, Requests: 100, Threads: 3, Idle: 2}

	// A run opens a connection to read the counter, the idle connections,
	// a poller per thread and the connections.
	opens := 1 + cfg.Idle + cfg.Threads + cfg.Conns

	t.Run("no failure", func(t *testing.T) {
		before := openFDs(t)
		srv := startServer(t, answering)
		calls := failOpen(t, 0)
		res, err := Run(srv.config(cfg))
		srv.close()
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != cfg.Requests || res.Errors != 0 || !res.Distinct {
			t.Errorf("requests %d errors %d distinct %v; want %d, 0, true", res.Requests, res.Errors, res.Distinct, cfg.Requests)
		}
		if n := calls(); n != opens {
			t.Errorf("Run opened descriptors %d times, want %d", n, opens)
		}
		checkSameFDs(t, before)
	})
	for k := 1; k <= opens; k++ {
		t.Run(fmt.Sprintf("open %d of %d fails", k, opens), func(t *testing.T) {
			before := openFDs(t)
			srv := startServer(t, answering)
			failOpen(t, k)
			_, err := Run(srv.config(cfg))
			srv.close()
			if !errors.Is(err, errInjected) {
				t.Errorf("Run: %v, want the injected failure", err)
			}
			checkSameFDs(t, before)
		})
	}

	t.Run("nothing listens", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		before := openFDs(t)
		c := cfg
		c.Addr = addr
		_, err = Run(c)
		if err == nil {
			t.Errorf("Run on %s, where nothing listens, did not fail", addr)
		}
		t.Logf("Run: %v", err)
		checkSameFDs(t, before)
	})
	// The idle connections fail; or, with none, the first worker's
	// connection, when the pollers are open.
	for _, idle := range []int{cfg.Idle, 0} {
		t.Run(fmt.Sprintf("server stops listening after the counter is read, %d idle", idle), func(t *testing.T) {
			before := openFDs(t)
			srv := startServer(t, listeningOnce)
			c := srv.config(cfg)
			c.Idle = idle
			_, err := Run(c)
			srv.close()
			if err == nil {
				t.Errorf("Run did not fail")
			}
			t.Logf("Run: %v", err)
			checkSameFDs(t, before)
		})
	}
	t.Run("server hangs up at once", func(t *testing.T) {
		before := openFDs(t)
		srv := startServer(t, hangingUp)
		_, err := Run(srv.config(cfg))
		srv.close()
		if err == nil {
			t.Errorf("Run did not fail")
		}
		t.Logf("Run: %v", err)
		checkSameFDs(t, before)
	})
}

var errInjected = errors.New("injected failure")

// failOpen makes the k-th call that opens a descriptor (dial, newPoller)
// fail, counting from 1; 0 fails none. The returned function says how
// many calls there have been. The real calls are back when the test ends.
func failOpen(t *testing.T, k int) (calls func() int) {
	realDial, realPoller := dial, newPoller
	t.Cleanup(func() { dial, newPoller = realDial, realPoller })
	var n int // Run opens everything before it starts its workers: one goroutine
	dial = func(addr string, timeout time.Duration) (int, error) {
		if n++; n == k {
			return -1, errInjected
		}
		return realDial(addr, timeout)
	}
	newPoller = func() (poller.Poller, error) {
		if n++; n == k {
			return nil, errInjected
		}
		return realPoller()
	}
	return func() int { return n }
}

// openFDs maps each descriptor the process has open to what it is
// ("socket:[4711]", "anon_inode:[eventpoll]"), from /proc/self/fd.
func openFDs(t *testing.T) map[string]string {
	t.Helper()
	const dir = "/proc/self/fd"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("no %s to count open descriptors in: %v", dir, err)
	}
	fds := make(map[string]string, len(entries))
	for _, e := range entries {
		what, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // ReadDir's own descriptor for the directory, closed by now
		}
		fds[e.Name()] = what
	}
	return fds
}

// checkSameFDs fails the test unless the process has exactly the
// descriptors it had before.
func checkSameFDs(t *testing.T, before map[string]string) {
	t.Helper()
	after := openFDs(t)
	for _, fd := range sortedFDs(after) {
		if what := after[fd]; before[fd] != what {
			t.Errorf("descriptor %s (%s) left open", fd, what)
		}
	}
	for _, fd := range sortedFDs(before) {
		if _, ok := after[fd]; !ok {
			t.Errorf("descriptor %s (%s), not ours, closed", fd, before[fd])
		}
	}
}

// sortedFDs lists the descriptors of fds in numeric order.
func sortedFDs(fds map[string]string) []string {
	list := make([]string, 0, len(fds))
	for fd := range fds {
		list = append(list, fd)
	}
	sort.Slice(list, func(i, j int) bool {
		a, _ := strconv.Atoi(list[i])
		b, _ := strconv.Atoi(list[j])
		return a < b
	})
	return list
}

// warmUpNet makes the Go runtime open its own poller's descriptors, which
// package net needs and keeps open, before the test counts descriptors.
func warmUpNet(t *testing.T) {
	t.Helper()
	startServer(t, answering).close()
}

// testServer is a fetch-and-add server on package net: a peer that shares
// no code with the load generator's sockets. It answers "N\n" with
// "  --> OLD\r\n".
type testServer struct {
	t       *testing.T
	ln      net.Listener
	mode    serverMode
	counter atomic.Int64

	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
	done   chan struct{} // closed by close: odd servers stop dribbling
	adding chan struct{} // closed when an odd server reads its first add
	added  sync.Once
}

// serverMode is how a testServer behaves.
type serverMode int

const (
	answering     serverMode = iota // every line of every connection
	listeningOnce                   // answering, but it stops listening after its first accept
	hangingUp                       // it closes each connection at once, unanswered
	// The odd servers (odd_test.go) answer the counter's read ("0")
	// and then misbehave.
	silent     // reads the lines, answers none
	everyOther // answers every other line of a connection
	noLineEnd  // answers without CRLF
	dribbling  // answers a byte at a time, one every dribbleEvery
	unreading  // reads nothing more, as a stopped process
	farAbove   // answers 2^34 above the counter
	endless    // answers with bytes and never a line end
	repeating  // answers every line with the counter's start
	// And two that never answer the counter's read.
	mute          // reads the lines, answers none, the counter's read included
	dribblingRead // answers the counter's read a byte every dribbleEvery, and never ends the line
)

// startServer starts a server on an ephemeral loopback port.
func startServer(t *testing.T, mode serverMode) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, ln: ln, mode: mode, conns: make(map[net.Conn]bool), done: make(chan struct{}), adding: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if mode == listeningOnce {
				ln.Close() // no Accept is waiting: the listening socket is closed now
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				c.Close()
				return
			}
			s.conns[c] = true
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	return s
}

func (s *testServer) config(cfg Config) Config {
	cfg.Addr = s.ln.Addr().String()
	return cfg
}

// serve answers c's lines: as a server should (!!!! to a line that is
// not a number), or, in an odd mode, as answerOdd says.
func (s *testServer) serve(c net.Conn) {
	defer c.Close()
	if s.mode == hangingUp {
		return
	}
	r := bufio.NewReader(c)
	lines := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		n, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		switch {
		case err != nil && s.mode >= silent:
			return
		case err != nil:
			fmt.Fprint(c, "!!!!\r\n")
			continue
		}
		old := s.counter.Add(n) - n
		if s.mode < silent {
			fmt.Fprintf(c, "  --> %d\r\n", old)
		} else if !s.answerOdd(c, n, old, &lines) {
			return
		}
	}
}

// close stops the server and closes its connections; when it returns,
// their descriptors are closed and its goroutines have ended.
func (s *testServer) close() {
	s.ln.Close()
	s.mu.Lock()
	if !s.closed {
		close(s.done)
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	testwait.Group(s.t, &s.wg, "the test server's goroutines")
}
