package server

import (
	"io"
	"strings"
	"testing"
	"time"

	"fetchadd/fetchadd"
	"fetchadd/internal/testwait"
	"fetchadd/poller"
)

// TestTurnBounded: a turn of the readiness loop answers a connection's
// read up to outLimit of replies (and the reply that passes it), and
// keeps the rest for the turns the socket is writable in: a read of 64
// KiB of short lines, 32,768 replies, does not hold up the loop's other
// connections until all are made (with a counter of 101 digits, 3.5 MB
// of them, a third of a second with the race detector). Every line is
// answered, in order, turn by turn: the connection asks the poller to
// say when its socket is writable, and each such event is a turn.
func TestTurnBounded(t *testing.T) {
	const lines = loopReadSize / 2
	want, ends := repliesTo(lines)
	for _, mode := range []string{Poll, Event} {
		t.Run(mode, func(t *testing.T) {
			srv, l := listenLoop(t, Config{Mode: mode}, 0)
			c, client := loopConn(t, srv, l)
			client.SetDeadline(time.Now().Add(timeout))
			if _, err := client.Write([]byte(strings.Repeat("1\n", lines))); err != nil {
				t.Fatal(err)
			}
			arrived(t, c.fd, 2*lines, false)
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(io.LimitReader(client, int64(len(want))))
				got <- b
			}()
			// made is the bytes of the replies to the lines answered so
			// far: the counter says how many.
			made := func() int { return ends[srv.counter.Value().Int64()] }
			// The loop's turns, each an event of the poller's (a read,
			// then the socket writable), until every line is answered.
			turns, before := 0, 0
			for deadline := time.Now().Add(timeout); turns == 0 || len(c.in) > 0 || len(c.out) > 0; {
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d lines answered in %d turns; the loop watches for reading %v, writing %v",
						srv.counter.Value().Int64(), lines, turns, c.reading, c.writing)
				}
				events, err := l.poller.Wait(100)
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range events {
					turns++
					l.handle(ev)
					now := made()
					if now-before > outLimit+len("  --> 32767\r\n") {
						t.Fatalf("turn %d made %d bytes of replies, want at most outLimit (%d) and a reply", turns, now-before, outLimit)
					}
					before = now
				}
			}
			if b := testwait.Recv(t, got, "the client's replies"); string(b) != string(want) {
				i := 0
				for i < min(len(b), len(want)) && b[i] == want[i] {
					i++
				}
				t.Fatalf("the client got %d bytes of replies, want %d; from byte %d: %.40q, want %.40q", len(b), len(want), i, b[i:], want[i:])
			}
			t.Logf("%d lines answered in %d turns", lines, turns)
		})
	}
}

// TestStopAnswersHeld: a loop that stops answers the requests a
// connection holds for a later turn, as far as its socket takes the
// replies: the lines of a read are not lost because the turn that read
// them made its 64 KiB of replies.
func TestStopAnswersHeld(t *testing.T) {
	for _, mode := range []string{Poll, Event} {
		t.Run(mode, func(t *testing.T) {
			srv, l := listenLoop(t, Config{Mode: mode}, 0)
			c, client := loopConn(t, srv, l)
			client.SetDeadline(time.Now().Add(timeout))
			const lines = loopReadSize / 2
			if _, err := client.Write([]byte(strings.Repeat("1\n", lines))); err != nil {
				t.Fatal(err)
			}
			arrived(t, c.fd, 2*lines, false)
			l.handle(poller.Event{Fd: c.fd, Read: true})
			if len(c.in) == 0 {
				t.Fatalf("a turn answered all %d lines", lines)
			}
			first := srv.counter.Value().Int64() // the lines the turn answered
			want, ends := repliesTo(lines)
			// What the socket took of the turn's replies read, so that it
			// has room; the rest waits in c.out.
			got := make([]byte, ends[first]-len(c.out))
			if _, err := io.ReadFull(client, got); err != nil {
				t.Fatal(err)
			}
			srv.stopping.Store(true)
			l.stop()
			rest, err := io.ReadAll(client)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, rest...)
			if len(got) <= ends[first] || len(got) > len(want) || string(got) != string(want[:len(got)]) {
				t.Fatalf("after the turn's %d lines (%d bytes of replies), the client got %d bytes, the stop's %.40q; want more of the replies, in order",
					first, ends[first], len(got), rest)
			}
			t.Logf("the turn answered %d lines, the stop %d bytes more", first, len(rest))
		})
	}
}

// repliesTo returns the replies to n lines "1" from a counter at 0, and
// ends[k], the bytes of the first k of them.
func repliesTo(n int) (want []byte, ends []int) {
	ends = []int{0}
	for i := 0; i < n; i++ {
		want = append(fetchadd.AppendResult(want, fetchadd.Int(int64(i))), fetchadd.CRLF...)
		ends = append(ends, len(want))
	}
	return want, ends
}
