package server

import (
	"fmt"
	"time"

	"fetchadd/fetchadd"
	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// timeout is how long the next Wait may take, in milliseconds: until
// accepting resumes, or the next look for idle connections.
func (l *loop) timeout() int {
	var until time.Time
	if !l.acceptPause.IsZero() {
		until = l.acceptPause
	}
	if l.srv.cfg.Idle > 0 && len(l.conns) > 0 && (until.IsZero() || l.nextSweep.Before(until)) {
		until = l.nextSweep
	}
	if until.IsZero() {
		return -1
	}
	return max(0, int(time.Until(until).Milliseconds())+1)
}

// sweepEvery divides the idle time into the intervals at which a loop
// looks for idle connections: a connection is closed between one and
// 1.05 idle times after its last progress. A scan of all connections that
// often costs little, and needs no timer per connection.
const sweepEvery = 20

// closeIdle closes the connections quiet for the idle time or more; those
// with no replies waiting get the idle line first, if it fits.
func (l *loop) closeIdle() {
	idle := l.srv.cfg.Idle
	l.nextSweep = l.now.Add(max(idle/sweepEvery, time.Millisecond))
	for _, c := range l.conns {
		if !c.dead && l.now.Sub(c.active) >= idle {
			if len(c.out) == 0 {
				l.srv.sendIdleLine(c.fd)
			}
			l.kill(c, errIdle)
		}
	}
}

// sendIdleLine tells a connection that the server closes it for being
// quiet too long, if the line fits in the socket buffer now: poll with
// no wait says whether there is room, and the send does not wait either.
// A connection that does not read gets no line rather than a blocked
// server or half a line.
func (s *Server) sendIdleLine(fd int) {
	room := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	if n, err := sock.Poll(room, 0); n == 1 && err == nil && room[0].Revents == unix.POLLOUT {
		line := fmt.Sprintf("%s idle for %v: closing%s", fetchadd.Invalid, s.cfg.Idle, fetchadd.CRLF)
		sock.Send(fd, []byte(line), unix.MSG_DONTWAIT)
	}
}
