package server

import (
	"fetchadd/sock"
	"fetchadd/uring"

	"golang.org/x/sys/unix"
)

// A connection of a uring loop, completion by completion: conn.go's
// receive, answer, flush and progress, where a read or send is queued on
// the ring and finished when its completion comes.

// received handles a receive's completion: the bytes are answered as
// conn.go's receive does, the buffer goes back to the ring, and the
// connection moves on (progress queues the next receive).
func (l *uloop) received(u *uconn, cq uring.Completion) {
	c := &u.conn
	c.reading = false
	u.more = false
	switch {
	case c.dead: // killed meanwhile: the bytes are dropped
	case cq.Errno() == unix.ENOBUFS:
		// Every buffer was in use: progress receives again, into one
		// given back meanwhile (bytes are there).
		u.more = true
	case cq.Errno() == unix.EAGAIN:
		// A receive of a loop that stops (PrepRecvNow): nothing there.
	case cq.Res < 0:
		l.kill(c, cq.Err())
	case cq.Res == 0:
		c.eof = true
	default:
		data, _ := l.ring.Buffer(cq)
		c.active = l.now
		// More may have come since, or the end of the stream: a loop
		// that stops receives again (progress), as the readiness loop
		// reads until EAGAIN. The kernel's IORING_CQE_F_SOCK_NONEMPTY
		// cannot say so of bytes or an end that come after the receive.
		u.more = true
		l.answer(u, data)
	}
	l.ring.ReturnBuffer(cq) // answer has copied what it kept (c.in)
	l.progress(u)
}

// answer answers the lines in data as conn.go's answer does, but always
// into c.out: the bytes of a send must stay where they are until its
// completion, so the replies go after them. The first reply takes a
// buffer from the loop's pool. What it cannot answer, because replies
// are waiting that the client does not read (limit of them: outLimit,
// less past the server's outBudget), it keeps in c.in. As all of its
// replies wait in c.out until a send's completion, a completion makes
// at most limit of them (and the reply that passes it), as a turn of
// the readiness loop does.
func (l *uloop) answer(u *uconn, data []byte) {
	c := &u.conn
	limit := l.srv.outBudget.limit(c.out)
	for len(data) > 0 && !c.dead {
		if len(c.out) >= limit {
			c.in = append(c.in, data...)
			return
		}
		if c.out == nil {
			c.out = l.getBuf()
		}
		before := len(c.out)
		var used int
		c.out, used = c.sess.Answer(c.out, data, limit)
		if l.srv.state != nil { // sent once saved, at the end of the batch
			l.unsaved(c, len(c.out)-before)
		}
		l.flush(u)
		data = data[used:]
	}
}

// flush queues a send of the replies in c.out that may go (all but
// those whose adds are not saved yet), unless a send is in flight: one
// at a time, so that replies reach the socket in order and the bytes in
// flight are always c.out's first.
func (l *uloop) flush(u *uconn) {
	c := &u.conn
	n := len(c.out) - c.unsaved
	if c.writing || c.dead || n == 0 {
		return
	}
	u.sending = c.out[:n]
	c.writing = true
	l.ring.PrepSend(c.fd, u.sending)
}

// sent handles a send's completion: the bytes the socket took leave
// c.out, and what is left, with the replies made meanwhile, goes in the
// next send. A connection that has sent everything gives its buffer back
// to the pool.
func (l *uloop) sent(u *uconn, cq uring.Completion) {
	c := &u.conn
	c.writing = false
	u.sending = nil
	switch {
	case c.dead:
		return
	case cq.Res < 0:
		l.kill(c, cq.Err()) // EPIPE, ECONNRESET: the client went away
		return
	case cq.Res > 0:
		c.active = l.now
	}
	c.out = c.out[:copy(c.out, c.out[cq.Res:])]
	if len(c.out) == 0 {
		l.putBuf(c.out)
		c.out = nil
	}
	l.flush(u)
	l.progress(u)
}

// progress moves a connection on after a completion, as conn.go's
// progress does: it answers held requests when there is room, answers
// the last line at the end of the stream, closes when all is said and
// sent, and queues the next receive where the readiness loop would watch
// for reading. In a loop that stops (draining), only where the last
// receive brought bytes (or found no buffer), up to stopReads, and one
// that does not wait (stop).
func (l *uloop) progress(u *uconn) {
	c := &u.conn
	if c.dead {
		return
	}
	if in := c.takeHeld(l.srv.outBudget.limit(c.out)); in != nil {
		l.answer(u, in)
		if len(c.in) == 0 {
			c.in = nil
		}
	}
	if c.ending() {
		before := len(c.out)
		c.out = c.sess.Finish(c.out)
		if l.srv.state != nil {
			l.unsaved(c, len(c.out)-before)
		}
		l.flush(u)
		if len(c.out) == 0 {
			l.kill(c, nil) // everything answered and sent
			return
		}
	}
	if c.dead {
		return
	}
	l.srv.outBudget.hold(&c.held, cap(c.out)+cap(c.in))
	if !c.reading && c.wantsInput(l.srv.outBudget.limit(c.out)) {
		switch {
		case !l.draining:
			c.reading = true
			l.ring.PrepRecv(c.fd)
		case u.more && u.drained < stopReads:
			c.reading = true
			u.drained++
			l.stopRecvs++
			l.ring.PrepRecvNow(c.fd)
		}
	}
}

// resume sends a connection's replies once save.go's release has settled
// them (the sender of saveThen).
func (l *uloop) resume(c *conn) {
	u := l.uconns[c.fd]
	l.flush(u)
	l.progress(u)
}

// closeDead closes the connections killed in this batch or before, as
// loop.closeDead does, once nothing is in flight on them: a descriptor
// closed under an operation would be given by the next accept to a new
// connection, which would meet that operation's completion. A connection
// with a receive or send in flight has them cancelled, and waits.
func (l *uloop) closeDead() {
	still := l.closing[:0]
	for _, c := range l.closing {
		c.sess.Close() // gives back what it held of an unfinished line
		u := l.uconns[c.fd]
		if c.reading || c.writing {
			if !u.cancelled && !l.cancelled {
				l.ring.PrepCancel(c.fd)
				u.cancelled = true
			}
			still = append(still, c)
			continue
		}
		l.putBuf(c.out)
		c.out = nil
		l.srv.outBudget.hold(&c.held, 0)
		sock.Close(c.fd)
		delete(l.conns, c.fd)
		l.uconns[c.fd] = nil
		l.srv.active.Add(-1)
		l.srv.logConnEnd(c.fd, c.peer, c.err)
	}
	clear(l.closing[len(still):])
	l.closing = still
}

// getBuf returns an empty buffer for replies, from the pool if it has
// one.
func (l *uloop) getBuf() []byte {
	if n := len(l.free); n > 0 {
		b := l.free[n-1]
		l.free[n-1] = nil
		l.free = l.free[:n-1]
		return b
	}
	return make([]byte, 0, replyBufSize)
}

// putBuf gives a buffer back to the pool, unless it has grown large (a
// burst of big replies) or the pool is full: those go to the garbage
// collector.
func (l *uloop) putBuf(b []byte) {
	if cap(b) == 0 || cap(b) > keepReplyBuf || len(l.free) >= maxFreeBufs {
		return
	}
	l.free = append(l.free, b[:0])
}
