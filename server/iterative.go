package server

import (
	"errors"

	"fetchadd/fetchadd"
	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// serveIterative is the lab's server: accept a connection, serve it until
// the client leaves, close it, accept the next. While one client is
// served, the next waits: the kernel completes its handshake and queues it
// in the listen backlog, and its lines wait in its socket's receive buffer
// until accept takes it.
func (s *Server) serveIterative() error {
	for {
		fd, peer, err := s.acceptBlocking()
		if fd < 0 {
			return err
		}
		if !s.track(fd) {
			return nil
		}
		s.logger.Printf("fd %d: connection from %s", fd, sock.String(peer))
		err = s.serveConn(fd)
		s.closeTracked(fd)
		s.logConnEnd(fd, peer, err)
	}
}

// acceptBlocking waits for the next connection, for the blocking modes.
// It skips a client that left before accept took it (ECONNABORTED),
// pauses while the process is out of descriptors, and returns fd -1 when
// the server stops (err nil) or accept fails.
func (s *Server) acceptBlocking() (fd int, peer unix.Sockaddr, err error) {
	for {
		fd, peer, err = accept(s.lfd, false)
		switch {
		case s.stopping.Load():
			if err == nil {
				sock.Close(fd)
			}
			return -1, nil, nil
		case err == nil:
			return fd, peer, nil
		case outOfResources(err):
			s.logger.Printf("%v; not accepting for %v", err, acceptPauseTime)
			pauseAccepting()
		case !errors.Is(err, unix.ECONNABORTED):
			return -1, nil, err
		}
	}
}

// serveConn answers the lines of one connection with blocking reads and
// writes until the client closes (or half-closes) it: read what came, send
// the replies to every complete line, repeat. A last line without LF is
// answered at the end of the stream, but not when the server stops: then
// the read returns 0 because Stop shut the socket down for reading (the
// two look alike here, so a client that half-closed just then loses its
// last line too), and an unfinished line is not a line. Once the server
// stops, a client that keeps sending gets at most stopReads reads more,
// and replies it has no room for are dropped. A connection that makes no
// progress for the idle time gets the idle line, if no reply is half sent
// and the line fits, and is closed.
func (s *Server) serveConn(fd int) error {
	setNoDelay(fd)
	d, err := newDeadline(fd, s.cfg.Idle, s.stopR)
	if err != nil {
		return err
	}
	sess := fetchadd.NewSession(&s.counter, s.budget)
	defer sess.Close()
	buf := make([]byte, readSize)
	var out []byte
	var held int // out's capacity, as the server's outBudget counts it
	defer s.outBudget.hold(&held, 0)
	for reads := 0; ; {
		n, err := d.read(fd, buf)
		if err != nil {
			return s.idleOr(fd, err)
		}
		if n == 0 { // end of stream: the client's, or Stop's shutdown
			if s.stopping.Load() {
				return nil
			}
			_, err := d.sendAll(fd, s.save(sess.Finish(out[:0]), 0))
			return err
		}
		for in := buf[:n]; len(in) > 0; {
			var used int
			out, used = sess.Answer(out[:0], in, s.outBudget.limit(out[:0]))
			out = s.save(out, 0)
			s.outBudget.hold(&held, cap(out))
			in = in[used:]
			if sent, err := d.sendAll(fd, out); err != nil {
				switch {
				case err == errStopped:
					return nil
				case sent > 0 && sent < len(out):
					return err // no idle line in the middle of a reply
				}
				return s.idleOr(fd, err)
			}
			if !s.outBudget.keep(held) { // past the budget, a large buffer goes
				out = nil
				s.outBudget.hold(&held, 0)
			}
		}
		if s.stopping.Load() {
			if reads++; reads == stopReads {
				return nil
			}
		}
	}
}

// stopReads is how many reads a connection gets once the server stops:
// what has arrived, within reason. A client that keeps sending does not
// keep the server from stopping.
const stopReads = 16

// idleOr sends the idle line if err says the idle time passed, and
// returns err.
func (s *Server) idleOr(fd int, err error) error {
	if err == errIdle {
		s.sendIdleLine(fd)
	}
	return err
}
