package server

// A reply goes out only once its add is saved, by every path that sends
// replies (save.go). On a read-only state file every commit fails, so a
// reply sent before its save shows: "  --> N" where the refusal belongs.

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"

	"fetchadd/poller"
)

// TestRepliesAfterSave: in every mode, replies to adds on a read-only
// state file are refusals, whatever path sends them: a last line ended
// by a half-close (the end of the stream answers it), lines then a
// half-close, and more lines than the sockets hold replies for (held
// requests, partial sends, sends of held replies).
func TestRepliesAfterSave(t *testing.T) {
	path := readOnlyState(t)
	for _, mode := range Modes {
		t.Run(mode, func(t *testing.T) {
			srv, _, stop := serve(t, Config{Mode: mode, Loops: 1, StatePath: path})
			defer stop()
			shrinkSends(t, srv)
			for _, tc := range []struct {
				send  string
				lines int
			}{{"5", 1}, {"1\n2\n5", 3}, {strings.Repeat("1\n", 3000), 3000}} {
				if got := exchange(t, srv.Addr().String(), tc.send); got != strings.Repeat(refusedReadOnly, tc.lines) {
					t.Fatalf("%d lines, the last %q, then a half-close: %d bytes, %q...; want %d refusals",
						tc.lines, tc.send[max(0, len(tc.send)-3):], len(got), got[:min(len(got), 80)], tc.lines)
				}
			}
		})
	}
}

// TestStopRepliesAfterSave: a loop that stops (poll, event, uring)
// answers the lines it has received, the last one ended by a half-close,
// only once their adds are saved: on a read-only state file, with
// refusals.
func TestStopRepliesAfterSave(t *testing.T) {
	path := readOnlyState(t)
	const send, lines = "1\n2\n5", 3
	for _, mode := range []string{Poll, Event} {
		t.Run(mode, func(t *testing.T) {
			srv, l := listenLoop(t, Config{Mode: mode, StatePath: path}, 0)
			startState(t, srv)
			c, client := loopConn(t, srv, l)
			client.Write([]byte(send))
			client.(interface{ CloseWrite() error }).CloseWrite()
			arrived(t, c.fd, len(send), true)
			l.stop()
			wantRefusals(t, client, lines)
		})
	}
	t.Run(Uring, func(t *testing.T) {
		srv, l := uringLoop(t, Config{StatePath: path})
		startState(t, srv)
		client, fd := uringClient(t, srv, l)
		client.Write([]byte(send))
		client.CloseWrite()
		arrived(t, fd, len(send), true)
		l.stop()
		wantRefusals(t, client, lines)
	})
}

// TestFlushHoldsUnsaved: the readiness loop's flush sends none of the
// replies whose adds are not saved yet, as when kqueue reports a
// connection's write filter after its read filter in one batch: the
// replies the read made wait for the batch's commit, and go out as
// refusals on a read-only state file.
func TestFlushHoldsUnsaved(t *testing.T) {
	path := readOnlyState(t)
	srv, l := listenLoop(t, Config{Mode: Event, StatePath: path}, 0)
	startState(t, srv)
	c, client := loopConn(t, srv, l)
	client.Write([]byte("1\n2\n"))
	arrived(t, c.fd, 4, false)
	l.handle(poller.Event{Fd: c.fd, Read: true})
	l.flush(c) // the write event's
	l.saveStep()
	l.stop()
	wantRefusals(t, client, 2)
}

// startState readies srv's state file as Serve does, for a loop the test
// runs by hand, and closes it when the test ends.
func startState(t *testing.T, srv *Server) {
	srv.state.Start(srv.counter.Snapshot, srv.counter.Reset)
	t.Cleanup(func() { srv.closeSt() })
}

// wantRefusals reads what the server sent until it closed: n refusals
// of adds on a read-only state file, and nothing else.
func wantRefusals(t *testing.T, client io.Reader, n int) {
	t.Helper()
	if d, ok := client.(interface{ SetReadDeadline(time.Time) error }); ok {
		d.SetReadDeadline(time.Now().Add(timeout))
	}
	got, err := io.ReadAll(bufio.NewReader(client))
	if string(got) != strings.Repeat(refusedReadOnly, n) || err != nil {
		t.Fatalf("got %q, %v; want %d refusals", got, err, n)
	}
}
