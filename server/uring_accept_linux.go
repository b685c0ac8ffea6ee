package server

import (
	"errors"
	"time"

	"fetchadd/sock"
	"fetchadd/uring"

	"golang.org/x/sys/unix"
)

// Accepting in the uring mode: loop 0 keeps one multishot accept in
// flight on the listening socket, and deals the connections out to the
// loops in turn (handoff.go: deal, handOver), as acceptAll does.

// prepAccept queues loop 0's multishot accept, unless one is in flight, the
// process is out of descriptors (acceptPause: endBatch queues it after
// the pause), or the server stops.
func (l *uloop) prepAccept() {
	if l.accepting || !l.acceptPause.IsZero() || l.srv.stopping.Load() {
		return
	}
	l.ring.PrepAccept(l.srv.lfd)
	l.accepting = true
}

// uringAccepted is the identity; a test replaces it to make accept fail
// as the kernel seldom does on demand (ECONNABORTED).
var uringAccepted = func(c uring.Completion) uring.Completion { return c }

// acceptDone handles a completion of the multishot accept: a connection,
// which goes to the next loop in turn, or an error, as acceptAll handles
// accept4's. A completion without IORING_CQE_F_MORE (any error) has
// ended the accept: it is queued again. A connection accepted once the
// server stops is closed, as the readiness loops leave it in the
// backlog for the listening socket's close: no loop would serve it (one
// that has cancelled everything would wait for its receive for good).
func (l *uloop) acceptDone(c uring.Completion) {
	s := l.srv
	if !c.More() {
		l.accepting = false
	}
	c = uringAccepted(c)
	err := c.Err()
	switch {
	case err == nil:
	case errors.Is(err, unix.ECONNABORTED):
		// the client left before accept took it
	case s.stopping.Load() || errors.Is(err, unix.ECANCELED):
		return // Stop has shut the socket down, or the loop cancels
	default:
		// Out of descriptors (outOfResources), or another error: accepting
		// again at once could fail again at once: a pause.
		s.logger.Printf("%v; not accepting for %v", err, acceptPauseTime)
		l.acceptPause = time.Now().Add(acceptPauseTime)
		return
	}
	if err == nil {
		fd := int(c.Res)
		if l.draining || l.cancelled || s.stopping.Load() {
			sock.Close(fd)
			return
		}
		peer, err := sock.Peername(fd, l.domain)
		if err != nil {
			s.logger.Printf("fd %d: %v", fd, err)
			sock.Close(fd)
		} else if l.deal(accepted{fd, peer}) {
			l.register(accepted{fd, peer})
		}
	}
	l.prepAccept()
}

// register starts serving a connection in this loop: its first receive
// is queued.
func (l *uloop) register(a accepted) {
	u := new(uconn)
	l.initConn(&u.conn, a)
	if a.fd >= len(l.uconns) {
		l.uconns = append(l.uconns, make([]*uconn, a.fd+1-len(l.uconns))...)
	}
	l.uconns[a.fd] = u
	l.conns[a.fd] = &u.conn
	l.srv.logger.Printf("fd %d: connection from %s (loop %d)", a.fd, sock.String(a.peer), l.id)
	l.progress(u)
}
