package server

// Tests of the idle time's rules, on the loop's own clock (l.now) or the
// deadline's, so that no test waits an idle time: a send is progress, as
// a receive is, and a loop looks for idle connections every twentieth of
// the idle time.

import (
	"bufio"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSendIsProgress: a client that reads its replies slowly, each some
// time after the last but within the idle time, is not idle, however long
// the whole takes: each send moves the connection's idle time on. Four
// sends half an idle time apart take two idle times.
func TestSendIsProgress(t *testing.T) {
	const idle = time.Minute
	for _, mode := range []string{Poll, Event} {
		t.Run(mode, func(t *testing.T) {
			srv, l := listenLoop(t, Config{Mode: mode, Idle: idle}, 0)
			c, client := loopConn(t, srv, l)
			r := bufio.NewReader(client)
			start := c.active
			for i := 1; i <= 4; i++ {
				l.now = start.Add(time.Duration(i) * idle / 2)
				reply := fmt.Sprintf("  --> %d\r\n", i)
				c.out = append(c.out, reply...) // a reply of the backlog, which the socket takes now
				l.flush(c)
				l.closeIdle()
				if c.dead {
					t.Fatalf("closed as idle %v after the connection began, %v after a send", l.now.Sub(start), idle/2)
				}
				client.SetReadDeadline(time.Now().Add(timeout))
				if line, err := r.ReadString('\n'); line != reply {
					t.Fatalf("reply %d: %q, %v", i, line, err)
				}
			}
		})
	}
}

// TestDeadlineSendIsProgress: the blocking modes' deadline moves on with
// each send, as with each read: a send an idle time after the last
// progress starts a new idle time.
func TestDeadlineSendIsProgress(t *testing.T) {
	const idle = time.Hour
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	d, err := newDeadline(fds[0], idle, -1)
	if err != nil {
		t.Fatal(err)
	}
	d.at = time.Now().Add(time.Millisecond) // the last progress was an idle time ago
	if _, err := d.sendAll(fds[0], []byte("  --> 1\r\n")); err != nil {
		t.Fatal(err)
	}
	if left := time.Until(d.at); left < idle/2 {
		t.Fatalf("after a send, the deadline is %v away; want about the idle time, %v", left, idle)
	}
}

// TestSweepEvery: a loop closes a connection within 1.05 idle times of
// its last progress, and not before one idle time, even when the progress
// came just after a look for idle connections: it looks every twentieth
// of the idle time. The loop wakes at l.nextSweep (see timeout).
func TestSweepEvery(t *testing.T) {
	const idle = time.Minute
	srv, l := listenLoop(t, Config{Mode: Event, Idle: idle}, 0)
	c, _ := loopConn(t, srv, l)
	l.now = time.Now()
	l.closeIdle()
	c.active = l.now.Add(time.Millisecond) // progress just after the look
	latest := c.active.Add(idle + idle/sweepEvery)
	for i := 0; !c.dead && i <= 2*sweepEvery; i++ {
		if l.timeout() < 0 {
			t.Fatal("a loop with a connection and an idle time waits with no timeout")
		}
		l.now = l.nextSweep
		l.closeIdle()
	}
	if quiet := l.now.Sub(c.active); !c.dead || quiet < idle || l.now.After(latest) {
		t.Fatalf("closed %v, %v after its last progress; want closed within %v, and not before -idle %v", c.dead, quiet, idle+idle/sweepEvery, idle)
	}
}
