package bench

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// dribbleEvery is how often a dribbling server sends a byte: bytes keep
// coming within a batch's timeout (300 ms in TestOddServers), a whole
// reply ("  --> 0\r\n", 9 bytes) never.
const dribbleEvery = 50 * time.Millisecond

// answerOdd answers line number *lines (n, added to a counter that was
// old) as the server's mode says, the counter's read ("0") as a server
// should; false: the server hangs up.
func (s *testServer) answerOdd(c net.Conn, n, old int64, lines *int) bool {
	switch {
	case s.mode == mute:
		s.added.Do(func() { close(s.adding) })
		return true
	case s.mode == dribblingRead:
		s.dribble(c, "  --> "+strings.Repeat("1", 2*maxReply))
		return false
	}
	if n == 0 {
		fmt.Fprintf(c, "  --> %d\r\n", old)
		return true
	}
	*lines++
	s.added.Do(func() { close(s.adding) })
	switch s.mode {
	case silent:
	case everyOther:
		if *lines%2 == 1 {
			fmt.Fprintf(c, "  --> %d\r\n", old)
		}
	case noLineEnd:
		fmt.Fprintf(c, "  --> %d", old)
	case dribbling:
		s.dribble(c, fmt.Sprintf("  --> %d\r\n", old))
	case unreading:
		<-s.done
		return false
	case farAbove:
		fmt.Fprintf(c, "  --> %d\r\n", old+1<<34)
	case endless:
		s.endless(c)
		return false
	case repeating:
		fmt.Fprint(c, "  --> 0\r\n")
	}
	return true
}

// dribble sends reply a byte every dribbleEvery, until the server or the
// connection is closed.
func (s *testServer) dribble(c net.Conn, reply string) {
	tick := time.NewTicker(dribbleEvery)
	defer tick.Stop()
	for i := 0; i < len(reply); i++ {
		select {
		case <-s.done:
			return
		case <-tick.C:
		}
		if _, err := c.Write([]byte{reply[i]}); err != nil {
			return
		}
	}
}

// endless sends 'x's until the connection or the server is closed: a
// reply without end.
func (s *testServer) endless(c net.Conn) {
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for {
		select {
		case <-s.done:
			return
		default:
		}
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

// runWithin runs a load and fails the test unless it returns within
// bound.
func runWithin(t *testing.T, cfg Config, bound time.Duration) (*Result, error) {
	t.Helper()
	type ran struct {
		res *Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := Run(cfg)
		done <- ran{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-time.After(bound):
		t.Fatalf("Run with -d %v, timeout %v: not over after %v", cfg.Duration, cfg.Timeout, bound)
		return nil, nil
	}
}

// slack is what a run may take past its promise here, on a loaded
// machine: the test checks that it ends, not how fast.
const slack = 10 * time.Second

// TestOddServers: whatever the server does after answering the counter's
// read (answer nothing, every other line, without line end, a byte at a
// time, stop reading), a run ends by its duration plus the timeout, with
// the replies that did not come counted as errors.
func TestOddServers(t *testing.T) {
	cases := []struct {
		name string
		mode serverMode
	}{
		{"silent", silent},
		{"every other line", everyOther},
		{"no line end", noLineEnd},
		{"a byte at a time", dribbling},
		{"stops reading", unreading},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.mode)
			defer srv.close()
			cfg := srv.config(Config{Conns: 3, Depth: 2, Duration: 200 * time.Millisecond, Timeout: 300 * time.Millisecond})
			res, err := runWithin(t, cfg, cfg.Duration+cfg.Timeout+slack)
			if err != nil {
				t.Fatal(err)
			}
			if res.TimedOut == 0 || res.Missing == 0 || res.Errors < res.Missing {
				t.Errorf("timed out %d, missing %d, errors %d; want connections timed out and their replies missing, counted as errors",
					res.TimedOut, res.Missing, res.Errors)
			}
			if !res.Distinct {
				t.Errorf("the replies that came were not all different: %d repeated, %d outside", res.Dups, res.Outside)
			}
		})
	}
}

// TestStoppedServer: a server that answers nothing from the start (a
// stopped process: the kernel completes the connections, nobody reads)
// fails the counter's read within the timeout.
func TestStoppedServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // never accepted from
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := Config{Addr: ln.Addr().String(), Conns: 2, Duration: time.Minute, Timeout: 300 * time.Millisecond}
	_, err = runWithin(t, cfg, cfg.Timeout+slack)
	if err == nil || !strings.Contains(err.Error(), "no reply within 300ms") {
		t.Fatalf("Run: %v, want no reply within the timeout", err)
	}
}

// TestFarReply: a reply 2^34 above the counter's start is outside the
// run's range, and costs the check no memory: its window reaches no
// further than the requests sent.
func TestFarReply(t *testing.T) {
	srv := startServer(t, farAbove)
	defer srv.close()
	cfg := srv.config(Config{Conns: 2, Depth: 2, Requests: 20})
	res, err := runWithin(t, cfg, slack)
	if err != nil {
		t.Fatal(err)
	}
	if res.Distinct || res.Outside != res.Requests || res.Requests != 20 {
		t.Errorf("distinct %v, outside %d of %d replies; want every reply outside", res.Distinct, res.Outside, res.Requests)
	}
	if res.Window > res.Sent {
		t.Errorf("the check's window reaches %d values for %d requests", res.Window, res.Sent)
	}
}

// TestRepeatedReplies: a server answering every add with the same value
// fails the check.
func TestRepeatedReplies(t *testing.T) {
	srv := startServer(t, repeating)
	defer srv.close()
	res, err := runWithin(t, srv.config(Config{Conns: 2, Depth: 5, Requests: 100}), slack)
	if err != nil {
		t.Fatal(err)
	}
	if res.Distinct || res.Dups != 99 {
		t.Errorf("distinct %v, repeated %d; want 99 repeated", res.Distinct, res.Dups)
	}
}

// TestEndlessReply: a reply without end fails its connection once it is
// longer than any reply, and the error quotes a few hundred bytes of it;
// at the counter's read, the run fails the same way.
func TestEndlessReply(t *testing.T) {
	srv := startServer(t, endless)
	defer srv.close()
	res, err := runWithin(t, srv.config(Config{Conns: 2, Depth: 2, Requests: 100}), slack)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors == 0 || res.FirstBad == "" || len(res.FirstBad) > 2*quoteMax {
		t.Errorf("errors %d, first bad reply %d bytes long: %.100s...; want errors and a short quote", res.Errors, len(res.FirstBad), res.FirstBad)
	}
	// quote says how long the unfinished reply was when the connection
	// was failed: no longer than maxReply and the read that passed it.
	var held int
	if i := strings.LastIndex(res.FirstBad, "... ("); i < 0 {
		t.Errorf("first bad reply %.100s: no length said", res.FirstBad)
	} else if fmt.Sscanf(res.FirstBad[i:], "... (%d bytes)", &held); held == 0 || held > maxReply+64<<10 {
		t.Errorf("the unfinished reply was held to %d bytes, want at most %d", held, maxReply+64<<10)
	}
	t.Logf("first bad reply: %.60s ... %s", res.FirstBad, res.FirstBad[max(len(res.FirstBad)-20, 0):])
}

// TestInterrupted: closing Stop ends the run at once, Duration or not,
// with what it measured; the replies it no longer waits for are not
// errors.
func TestInterrupted(t *testing.T) {
	srv := startServer(t, silent)
	defer srv.close()
	stop := make(chan struct{})
	cfg := srv.config(Config{Conns: 3, Duration: time.Hour, Timeout: time.Hour, Stop: stop})
	go func() {
		select {
		case <-srv.adding: // the run is on, waiting for replies that will not come
		case <-time.After(slack):
		}
		close(stop)
	}()
	res, err := runWithin(t, cfg, 2*slack)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Errors != 0 || res.Sent == 0 {
		t.Errorf("interrupted %v, errors %d, sent %d; want true, 0, some", res.Interrupted, res.Errors, res.Sent)
	}
}

// TestDribbledCounterRead: the counter's read must come whole within the
// timeout, however the server sends it: a byte every dribbleEvery, and
// never a line end, fails the run within the timeout, not within a
// timeout a byte (maxReply of them).
func TestDribbledCounterRead(t *testing.T) {
	srv := startServer(t, dribblingRead)
	defer srv.close()
	cfg := srv.config(Config{Conns: 2, Duration: time.Minute, Timeout: 300 * time.Millisecond})
	_, err := runWithin(t, cfg, cfg.Timeout+slack)
	if err == nil || !strings.Contains(err.Error(), "no reply within 300ms") {
		t.Fatalf("Run: %v, want no reply within the timeout", err)
	}
}

// TestInterruptedBeforeRun: closing Stop before the run begins ends Run
// at once with errInterrupted, every descriptor closed: while the counter
// is read (the server holds its reply, the timeout is an hour), and while
// the idle connections or the workers' are opened (the second dial
// closes it).
func TestInterruptedBeforeRun(t *testing.T) {
	warmUpNet(t)
	t.Run("reading the counter", func(t *testing.T) {
		before := openFDs(t)
		srv := startServer(t, mute)
		stop := make(chan struct{})
		go func() {
			select {
			case <-srv.adding: // the counter's read has come
			case <-time.After(slack):
			}
			close(stop)
		}()
		_, err := runWithin(t, srv.config(Config{Conns: 2, Duration: time.Minute, Timeout: time.Hour, Stop: stop}), 2*slack)
		srv.close()
		if !errors.Is(err, errInterrupted) {
			t.Errorf("Run: %v, want %v", err, errInterrupted)
		}
		checkSameFDs(t, before)
	})
	for _, idle := range []int{5, 0} {
		t.Run(fmt.Sprintf("connecting, %d idle", idle), func(t *testing.T) {
			before := openFDs(t)
			srv := startServer(t, answering)
			stop := make(chan struct{})
			realDial := dial
			t.Cleanup(func() { dial = realDial })
			dials := 0 // Run dials from one goroutine
			dial = func(addr string, timeout time.Duration) (int, error) {
				if dials++; dials == 2 { // the first idle or worker connection's, after the counter's
					close(stop)
				}
				return realDial(addr, timeout)
			}
			_, err := runWithin(t, srv.config(Config{Conns: 5, Idle: idle, Requests: 100, Stop: stop}), slack)
			srv.close()
			if !errors.Is(err, errInterrupted) || dials != 2 {
				t.Errorf("Run: %v after %d dials, want %v after 2", err, dials, errInterrupted)
			}
			checkSameFDs(t, before)
		})
	}
}
