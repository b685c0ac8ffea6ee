package server

import (
	"bytes"
	"errors"
	"fmt"

	"fetchadd/fetchadd"
	"fetchadd/state"

	"golang.org/x/sys/unix"
)

// With a state file, an event loop does not send a reply before its add
// is on disk: it answers a batch of events into its connections' buffers,
// has the counter saved as it is (state.Group.Sync: one commit for the
// batch, and for the batches of other loops that wait meanwhile), then
// sends the replies, or refusals if the commit failed. While it syncs,
// the next batch gathers in the sockets' buffers, as in redis with
// appendfsync always.

// mark is one batch's unsaved bytes at the end of a connection's out, and
// the counter's version that must be on disk before they are sent.
type mark struct {
	n int
	v uint64
}

// unsaved notes that the last n bytes of c.out answer adds of this batch,
// to be saved before they are sent.
func (l *loop) unsaved(c *conn, n int) {
	if n <= 0 {
		return
	}
	if c.batch == 0 {
		l.pending = append(l.pending, c)
	}
	c.batch += n
	c.unsaved += n
}

// saveStep ends a batch of events: its adds are saved, and the replies
// sent. Sending may let a connection answer requests it held: they are
// saved too.
func (l *loop) saveStep() { l.saveThen(l) }

// A sender sends a connection's replies once release has settled them
// (saved, or refused), and moves the connection on: the readiness loops
// with send(2) (loop.resume), the uring loop with a send queued on its
// ring (uloop.resume).
type sender interface{ resume(c *conn) }

// resume sends what the socket takes of c's saved replies, and moves c
// on.
func (l *loop) resume(c *conn) {
	l.flush(c)
	l.progress(c)
}

// saveThen is saveStep, with s to send the saved replies.
func (l *loop) saveThen(s sender) {
	for l.ask(); len(l.waiting) > 0; l.ask() {
		l.srv.state.Sync(l.srv.counter.Version())
		l.release(s)
	}
}

// ask marks this batch's unsaved bytes with the counter's version now,
// which holds their adds.
func (l *loop) ask() {
	if len(l.pending) == 0 {
		return
	}
	v := l.srv.counter.Version()
	for _, c := range l.pending {
		if c.dead || c.batch == 0 {
			continue
		}
		if len(c.marks) == 0 {
			l.waiting = append(l.waiting, c)
		}
		c.marks = append(c.marks, mark{c.batch, v})
		c.batch = 0
	}
	clear(l.pending)
	l.pending = l.pending[:0]
}

// release sends the replies whose adds are saved, and refusals for those
// whose commit failed, by s.
func (l *loop) release(s sender) {
	still := l.waiting[:0]
	for _, c := range l.waiting {
		if c.dead {
			continue
		}
		for len(c.marks) > 0 {
			m := c.marks[0]
			done, err := l.srv.state.Saved(m.v)
			if !done {
				break
			}
			if err != nil { // the batch's replies become refusals
				at := len(c.out) - c.unsaved // where the unsaved bytes, and so this batch's, start
				rest := append([]byte(nil), c.out[at+m.n:]...)
				c.out = append(append(c.out[:at], refuse(c.out[at:at+m.n], err)...), rest...)
			}
			c.unsaved -= m.n
			c.marks = c.marks[1:]
		}
		if len(c.marks) == 0 {
			c.marks = nil
		}
		s.resume(c)
		if len(c.marks) > 0 && !c.dead {
			still = append(still, c)
		}
	}
	clear(l.waiting[len(still):])
	l.waiting = still
}

// save makes the adds whose replies are out[from:] durable before any of
// them is sent, when the counter is kept in a state file: it waits until
// the file holds the counter as it is now, which has those adds in it
// (one commit serves every connection and loop waiting at the time). If
// that commit fails, each of those replies that reports an add becomes a
// refusal that says why; "!!!!" for a line that is not a number stays.
func (s *Server) save(out []byte, from int) []byte {
	if s.state == nil || len(out) == from {
		return out
	}
	err := s.state.Sync(s.counter.Version())
	if err == nil {
		return out
	}
	return append(out[:from], refuse(out[from:], err)...)
}

// refuse returns replies with each reply that reports an add turned into a
// refusal that says why it could not be saved; "!!!!" for a line that is
// not a number stays. The add has been made in memory, and the next
// commit that works saves it: values may be skipped, never repeated, and
// a client must not count on a refused add having been undone.
func refuse(replies []byte, err error) []byte {
	var out []byte
	for len(replies) > 0 {
		end := bytes.Index(replies, []byte(fetchadd.CRLF)) + len(fetchadd.CRLF)
		if bytes.HasPrefix(replies, []byte(fetchadd.Invalid)) {
			out = append(out, replies[:end]...)
		} else {
			out = fmt.Appendf(out, "%s not saved: %s%s", fetchadd.Invalid, why(err), fetchadd.CRLF)
		}
		replies = replies[end:]
	}
	return out
}

// why is what a client is told of a failed save: the store's words for
// it (state.Reason), or the system's word for it ("no space left on
// device"), or that the state file was removed or replaced, without the
// file's name, which is the server's business (its log has it); and that
// the add may still count.
func why(err error) string {
	var errno unix.Errno
	var reason *state.Reason
	switch {
	case errors.As(err, &reason):
		return reason.Text
	case errors.Is(err, state.ErrReplaced):
		return state.ErrReplaced.Error() + mayCount
	case errors.As(err, &errno):
		return errno.Error() + mayCount
	}
	return "the counter could not be saved" + mayCount
}

// mayCount ends a refusal whose commit's outcome is unknown.
const mayCount = " (the add may still count)"
