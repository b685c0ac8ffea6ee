package server

import (
	"errors"
	"time"

	"fetchadd/fetchadd"
	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// The event mode runs several loops, one per CPU. Loop 0 accepts every
// connection and hands them out in turn, each to the next loop. That
// balances exactly on every OS: Linux could spread connections over
// several listening sockets with SO_REUSEPORT, but it balances by a hash
// of the addresses, and macOS's SO_REUSEPORT does not balance at all.
// Handing a connection over costs a byte written to the other loop's wake
// pipe, once per connection.

// accepted is a connection loop 0 has accepted, on its way to the loop
// that serves it.
type accepted struct {
	fd   int
	peer unix.Sockaddr
}

// acceptAll takes every connection waiting in the backlog (loop 0).
func (l *loop) acceptAll() {
	s := l.srv
	for !s.stopping.Load() {
		fd, peer, err := accept(s.lfd, true)
		switch {
		case err == nil:
		case errors.Is(err, unix.EAGAIN):
			return
		case outOfResources(err):
			s.logger.Printf("%v; not accepting for %v", err, acceptPauseTime)
			l.acceptPause = time.Now().Add(acceptPauseTime)
			l.poller.Modify(s.lfd, false, false)
			return
		case errors.Is(err, unix.ECONNABORTED):
			continue // the client left before accept took it
		default:
			s.logger.Printf("%v", err)
			return
		}
		if l.deal(accepted{fd, peer}) {
			l.register(accepted{fd, peer})
		}
	}
}

// deal gives a connection loop 0 has accepted to the loops in turn: to
// another loop by handOver, or to l itself (true), which registers it.
// A connection past the limit is refused (full) and goes to none.
func (l *loop) deal(a accepted) (mine bool) {
	s := l.srv
	if s.full(a.fd, a.peer) {
		return false
	}
	s.active.Add(1)
	target := s.loops[l.next]
	l.next = (l.next + 1) % len(s.loops)
	if target != l {
		target.handOver(a)
		return false
	}
	return true
}

// handOver gives a connection accepted by loop 0 to loop l, and wakes it.
// A loop that has stopped takes nothing: the connection is closed.
func (l *loop) handOver(a accepted) {
	l.mu.Lock()
	stopped := l.stopped
	if !stopped {
		l.inbox = append(l.inbox, a)
	}
	l.mu.Unlock()
	if stopped {
		sock.Close(a.fd)
		l.srv.active.Add(-1)
		return
	}
	l.wake()
}

// drainWake empties the wake pipe and takes the connections handed over.
func (l *loop) drainWake() {
	var b [64]byte
	for {
		if n, err := sock.Read(l.wakeR, b[:]); err != nil || n < len(b) {
			break
		}
	}
	for _, a := range l.takeInbox() {
		l.register(a)
	}
}

// takeInbox takes the connections handed over to l so far.
func (l *loop) takeInbox() []accepted {
	l.mu.Lock()
	defer l.mu.Unlock()
	inbox := l.inbox
	l.inbox = nil
	return inbox
}

// register starts serving a connection in this loop.
func (l *loop) register(a accepted) {
	c := new(conn)
	l.initConn(c, a)
	if err := l.poller.Add(a.fd, true, false); err != nil {
		sock.Close(a.fd)
		l.srv.active.Add(-1)
		l.srv.logger.Printf("fd %d: %v", a.fd, err)
		return
	}
	c.reading = true
	l.conns[a.fd] = c
	l.srv.logger.Printf("fd %d: connection from %s (loop %d)", a.fd, sock.String(a.peer), l.id)
}

// initConn readies c to serve a connection given to l: Nagle off, a
// session, and the idle time counted from now (the first connection also
// starts the loop's looks for idle ones).
func (l *loop) initConn(c *conn, a accepted) {
	setNoDelay(a.fd)
	*c = conn{fd: a.fd, peer: a.peer, active: time.Now()}
	if l.nextSweep.IsZero() {
		l.nextSweep = c.active.Add(max(l.srv.cfg.Idle/sweepEvery, time.Millisecond))
	}
	c.sess = *fetchadd.NewSession(&l.srv.counter, l.srv.budget)
}

// closeInbox marks l stopped, so that handOver gives it nothing more,
// and closes the connections handed over that it has not taken.
func (l *loop) closeInbox() {
	l.mu.Lock()
	inbox := l.inbox
	l.inbox, l.stopped = nil, true
	l.mu.Unlock()
	for _, a := range inbox {
		sock.Close(a.fd)
		l.srv.active.Add(-1)
	}
}
