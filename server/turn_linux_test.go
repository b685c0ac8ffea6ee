package server

import (
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"fetchadd/fetchadd"
	"fetchadd/poller"
)

// TestTurnBounded: a turn of the readiness loop answers a connection's
// read up to outLimit of replies (and the reply that passes it), and
// keeps the rest for the turns the socket is writable in: a read of 64
// KiB of short lines, 32,768 replies, does not hold up the loop's other
// connections until all are made (with a counter of 101 digits, 3.5 MB
// of them, a third of a second with the race detector). Every line is
// answered, in order, turn by turn.
func TestTurnBounded(t *testing.T) {
	const lines = loopReadSize / 2
	var want []byte
	ends := []int{0} // ends[n]: the bytes of the first n replies
	for i := 0; i < lines; i++ {
		want = append(fetchadd.AppendResult(want, fetchadd.Int(int64(i))), fetchadd.CRLF...)
		ends = append(ends, len(want))
	}
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
			l.handle(poller.Event{Fd: c.fd, Read: true})
			turns, before := 1, 0
			for deadline := time.Now().Add(timeout); ; runtime.Gosched() {
				now := made()
				if now-before > outLimit+len("  --> 32767\r\n") {
					t.Fatalf("turn %d made %d bytes of replies, want at most outLimit (%d) and a reply", turns, now-before, outLimit)
				}
				before = now
				if len(c.in) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d lines answered in %d turns", srv.counter.Value().Int64(), lines, turns)
				}
				turns++
				l.handle(poller.Event{Fd: c.fd, Write: true})
			}
			if b := <-got; string(b) != string(want) {
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
