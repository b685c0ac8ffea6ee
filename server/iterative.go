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
		fd, peer, err = sock.Accept(s.lfd, false)
		switch {
		case s.stopping.Load():
			if err == nil {
				sock.Close(fd)
			}
			return -1, nil, nil
		case err == nil:
			return fd, peer, nil
		case outOfFds(err):
			s.logger.Printf("%v; not accepting for %v", err, acceptPauseTime)
			// poll(2) on nothing, not time.Sleep: a Go timer may need a
			// descriptor for the runtime's poller, and there is none.
			sock.Poll(nil, int(acceptPauseTime.Milliseconds()))
		case !errors.Is(err, unix.ECONNABORTED):
			return -1, nil, err
		}
	}
}

// serveConn answers the lines of one connection with blocking reads and
// writes until the client closes (or half-closes) it: read what came, send
// the replies to every complete line, repeat. A last line without LF is
// answered at the end. A client quiet for the idle time is closed: the
// socket's SO_RCVTIMEO and SO_SNDTIMEO make read or send give up with
// EAGAIN.
func (s *Server) serveConn(fd int) error {
	setNoDelay(fd)
	if s.cfg.Idle > 0 {
		tv := unix.NsecToTimeval(s.cfg.Idle.Nanoseconds())
		for _, opt := range []int{unix.SO_RCVTIMEO, unix.SO_SNDTIMEO} {
			if err := sock.SetsockoptTimeval(fd, unix.SOL_SOCKET, opt, &tv); err != nil {
				return err
			}
		}
	}
	err := s.answerConn(fd)
	if errors.Is(err, unix.EAGAIN) { // the idle time passed
		sock.Send(fd, s.idleLine())
		return errIdle
	}
	return err
}

// errIdle says a connection was closed for being quiet too long.
var errIdle = errors.New("idle too long")

func (s *Server) answerConn(fd int) error {
	sess := fetchadd.NewSession(&s.counter)
	buf := make([]byte, readSize)
	var out []byte
	for {
		n, err := sock.Read(fd, buf)
		if err != nil {
			return err
		}
		if n == 0 { // end of stream
			return sock.SendAll(fd, sess.Finish(out[:0]))
		}
		for in := buf[:n]; len(in) > 0; {
			var used int
			out, used = sess.Answer(out[:0], in, outLimit)
			in = in[used:]
			if len(out) > 0 {
				if err := sock.SendAll(fd, out); err != nil {
					return err
				}
			}
		}
	}
}
