package server

import (
	"errors"
	"fmt"
	"time"

	"fetchadd/fetchadd"
	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// acceptPauseTime is how long a server stops accepting when the process
// is out of descriptors (EMFILE, ENFILE). Accepting at once again would
// fail at once again: a busy loop. The clients wait in the backlog
// meanwhile, and the connections being served go on.
const acceptPauseTime = 100 * time.Millisecond

// accept is sock.Accept; a test replaces it to make accept fail as the
// kernel seldom does on demand (ECONNABORTED).
var accept = sock.Accept

// outOfResources says whether accept failed for want of descriptors
// (EMFILE, ENFILE) or of kernel memory (ENOBUFS, ENOMEM): an accept made
// at once again would fail at once again, so every mode pauses.
func outOfResources(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) ||
		errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENOMEM)
}

// pauseAccepting waits acceptPauseTime, for the blocking modes: in poll(2)
// on nothing, not time.Sleep, since a Go timer may need a descriptor for
// the runtime's poller, and there is none. A signal ends a poll early
// (sock.Poll returns 0): the runtime's preemption signal (SIGURG) may
// reach the thread just as it enters the call. So it polls again for the
// time left, until the whole pause has passed.
func pauseAccepting() {
	until := time.Now().Add(acceptPauseTime)
	for left := time.Until(until); left > 0; left = time.Until(until) {
		sock.Poll(nil, int((left+time.Millisecond-1)/time.Millisecond)) // never wake early
	}
}

// full says whether a new connection is over the limit, and then refuses
// it: one line saying why, then close. A new socket's send buffer is
// empty, so the short send does not block.
func (s *Server) full(fd int, peer unix.Sockaddr) bool {
	if s.active.Load() < int64(s.cfg.MaxConns) {
		return false
	}
	sock.Send(fd, []byte(fmt.Sprintf("%s server busy: %d connections, its limit; try again later%s", fetchadd.Invalid, s.cfg.MaxConns, fetchadd.CRLF)), unix.MSG_DONTWAIT)
	sock.Close(fd)
	s.logger.Printf("refused %s: %d connections, the limit", sock.String(peer), s.cfg.MaxConns)
	return true
}

// logConnEnd logs how a connection ended. A reset or a peer that went away
// while we wrote is an everyday event, not a server error.
func (s *Server) logConnEnd(fd int, peer unix.Sockaddr, err error) {
	switch {
	case err == nil:
		s.logger.Printf("fd %d: %s closed", fd, sock.String(peer))
	case errors.Is(err, unix.ECONNRESET), errors.Is(err, unix.EPIPE):
		s.logger.Printf("fd %d: %s went away (%v)", fd, sock.String(peer), err)
	default:
		s.logger.Printf("fd %d: %s: %v", fd, sock.String(peer), err)
	}
}
