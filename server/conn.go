package server

import (
	"errors"
	"time"

	"fetchadd/fetchadd"
	"fetchadd/poller"
	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// conn is one connection of a loop. An idle one holds no buffers: the
// loop's read buffer and reply buffer serve all, and a connection keeps
// only what it could not send yet (out) or could not answer yet (in).
type conn struct {
	fd      int
	peer    unix.Sockaddr
	sess    fetchadd.Session
	out     []byte    // replies not yet sent
	unsaved int       // the last bytes of out answer adds not yet saved (state file)
	batch   int       // of those, the bytes of this batch of events
	marks   []mark    // the unsaved bytes, batch by batch, with the version to save
	in      []byte    // bytes received but not answered: out was full, or the turn made its replies
	held    int       // what out and in hold, as the server's outBudget counts it
	reading bool      // the poller watches for reading
	writing bool      // the poller watches for writing
	eof     bool      // the client has closed its side (or the server stops)
	dead    bool      // to be closed at the end of the batch; ignore its events
	active  time.Time // when it last received or sent bytes
	err     error     // why it was killed; nil: it ended normally
}

// errHangUp says a connection broke while it waited for a commit.
var errHangUp = errors.New("the connection broke while its replies waited to be saved")

// handle acts on one event of a connection.
func (l *loop) handle(ev poller.Event) {
	c := l.conns[ev.Fd]
	if c == nil || c.dead {
		return // an event for a connection closed in this batch
	}
	if ev.Read && ev.Write && !c.reading && !c.writing {
		// An error or hang-up on a connection watched for nothing (its
		// replies wait for a commit): the poller would report it again
		// and again. The client has gone.
		l.kill(c, errHangUp)
		return
	}
	if ev.Write && c.writing {
		l.flush(c)
	}
	if ev.Read && c.reading && !c.dead {
		l.receive(c)
	}
	l.progress(c)
}

// receive does one read: the socket is non-blocking, and MSG_DONTWAIT
// says so to sock, which makes the call raw (rawwait/rawwait.go). The
// poller reports the descriptor again if more is waiting, and one read
// per turn keeps the loop fair. It says whether it got any bytes.
func (l *loop) receive(c *conn) bool {
	n, err := sock.Recv(c.fd, l.buf[:l.srv.outBudget.readLimit(c.out, len(l.buf))], unix.MSG_DONTWAIT)
	switch {
	case errors.Is(err, unix.EAGAIN):
	case err != nil:
		l.kill(c, err)
	case n == 0:
		c.eof = true
	default:
		c.active = l.now
		l.answer(c, l.buf[:n])
		return true
	}
	return false
}

// answer answers the lines in data, sending the replies as it goes, up
// to limit bytes of replies in all (outLimit, less past the server's
// outBudget; and the reply that passes it). What it does not answer it
// keeps in c.in, and the connection stops reading: until the replies
// waiting are sent, so that a client that sends without reading holds
// at most limit of replies and one read's worth of requests; or, if the
// socket took them, until it is writable again (progress), so that a
// read of 64 KiB of short lines (32,768 replies, 3.5 MB of them for a
// counter of 101 digits: a third of a second with the race detector) is
// answered over several turns, and the loop's other connections are
// served between them. A server that stops answers what the socket
// takes at once.
func (l *loop) answer(c *conn, data []byte) {
	limit := l.srv.outBudget.limit(c.out)
	for made := 0; len(data) > 0 && !c.dead; {
		if len(c.out) >= limit || made >= limit && !l.srv.stopping.Load() {
			c.in = append(c.in, data...)
			return
		}
		var used int
		before := len(c.out)
		if l.srv.state != nil { // sent once saved, at the end of the batch
			c.out, used = c.sess.Answer(c.out, data, limit)
			l.unsaved(c, len(c.out)-before)
			made += len(c.out) - before
		} else if len(c.out) > 0 {
			c.out, used = c.sess.Answer(c.out, data, limit)
			made += len(c.out) - before
			l.flush(c)
		} else {
			var out []byte
			out, used = c.sess.Answer(l.scratch[:0], data, limit-made)
			l.scratch = out[:0]
			made += len(out)
			l.sendNew(c, out)
		}
		data = data[used:]
	}
}

// sendNew sends what the socket takes of new replies, built in the loop's
// scratch buffer; the rest waits in c.out, which is empty.
func (l *loop) sendNew(c *conn, out []byte) {
	if n, ok := l.send(c, out); ok && n < len(out) {
		c.out = append([]byte(nil), out[n:]...)
	}
}

// flush sends what the socket takes of the replies waiting in c.out,
// but for those whose adds are not saved yet.
func (l *loop) flush(c *conn) {
	if n, ok := l.send(c, c.out[:len(c.out)-c.unsaved]); ok {
		if n == len(c.out) {
			c.out = nil
		} else {
			c.out = c.out[:copy(c.out, c.out[n:])]
		}
	}
}

// send is one send(2) of out: it says how much the socket took, and
// false if the connection broke.
func (l *loop) send(c *conn, out []byte) (int, bool) {
	if len(out) == 0 {
		return 0, true
	}
	n, err := sock.Send(c.fd, out, unix.MSG_DONTWAIT)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		l.kill(c, err)
		return 0, false
	}
	if n > 0 {
		c.active = l.now
	}
	return n, true
}

// progress moves a connection on after an event: answer held requests if
// there is room, answer the last line at the end of the stream, close when
// all is said, and watch for what it needs next.
func (l *loop) progress(c *conn) {
	if c.dead {
		return
	}
	// Requests held back: answered once there is room, in a later turn
	// than the read that brought them (one that read had none: reading).
	if !c.reading {
		if in := c.takeHeld(l.srv.outBudget.limit(c.out)); in != nil {
			l.answer(c, in)
			if len(c.in) == 0 {
				c.in = nil
			}
		}
	}
	if c.ending() {
		out := c.sess.Finish(nil)
		if l.srv.state != nil {
			c.out = append(c.out, out...)
			l.unsaved(c, len(out))
			out = nil
		} else if len(c.out) > 0 {
			c.out = append(c.out, out...)
			out = nil
		}
		l.sendNew(c, out)
		if !c.dead && len(c.out) == 0 {
			l.kill(c, nil) // everything answered and sent
			return
		}
	}
	if c.dead {
		return
	}
	l.srv.outBudget.hold(&c.held, cap(c.out)+cap(c.in))
	reading := c.wantsInput(l.srv.outBudget.limit(c.out))
	// Writing: replies to send, or requests held back that it answers
	// when the socket can take their replies.
	writing := len(c.out) > c.unsaved || len(c.in) > 0 && c.unsaved == 0
	if reading != c.reading || writing != c.writing {
		c.reading, c.writing = reading, writing
		if err := l.poller.Modify(c.fd, reading, writing); err != nil {
			l.kill(c, err)
		}
	}
}

// takeHeld takes the requests c held back while its replies waited
// (answer), once its replies are below limit; nil if there are none, or no
// room. What answer holds back again moves to the front of c.in.
func (c *conn) takeHeld(limit int) []byte {
	if len(c.in) == 0 || len(c.out) >= limit {
		return nil
	}
	in := c.in
	c.in = c.in[:0]
	return in
}

// ending says whether c's last line, if any, is to be answered now: the
// client has closed its side, nothing is held back, and there is room.
func (c *conn) ending() bool {
	return c.eof && len(c.in) == 0 && len(c.out) < outLimit
}

// wantsInput says whether c is to read more (watched for reading, or a
// receive queued): the stream goes on, nothing is held back, and its
// replies are below limit (the out budget's, outBudget.limit).
func (c *conn) wantsInput(limit int) bool {
	return !c.eof && len(c.in) == 0 && len(c.out) < limit
}

// kill marks a connection for closing at the end of the batch, so that no
// later event in the batch can meet a new connection that has been given
// the same descriptor number.
func (l *loop) kill(c *conn, err error) {
	if c.dead {
		return
	}
	c.dead, c.err = true, err
	l.closing = append(l.closing, c)
}

func (l *loop) closeDead() {
	for _, c := range l.closing {
		c.sess.Close() // gives back what it held of an unfinished line
		l.srv.outBudget.hold(&c.held, 0)
		l.poller.Remove(c.fd)
		sock.Close(c.fd)
		delete(l.conns, c.fd)
		l.srv.active.Add(-1)
		l.srv.logConnEnd(c.fd, c.peer, c.err)
	}
	clear(l.closing)
	l.closing = l.closing[:0]
}
