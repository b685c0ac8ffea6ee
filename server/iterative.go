package server

import (
	"fetchadd/fetchadd"
	"fetchadd/sock"
)

// serveIterative is the lab's server: accept a connection, serve it until
// the client leaves, close it, accept the next. While one client is
// served, the next waits: the kernel completes its handshake and queues it
// in the listen backlog, and its lines wait in its socket's receive buffer
// until accept takes it.
func (s *Server) serveIterative() error {
	for {
		fd, peer, err := sock.Accept(s.lfd, false)
		if s.stopping.Load() {
			if err == nil {
				sock.Close(fd)
			}
			return nil
		}
		if err != nil {
			if acceptError(err) {
				continue
			}
			return err
		}
		if !s.track(fd) {
			return nil
		}
		s.logger.Printf("fd %d: connection from %s", fd, sock.String(peer))
		err = serveConn(fd, &s.counter)
		s.closeTracked(fd)
		s.logConnEnd(fd, peer, err)
	}
}

// serveConn answers the lines of one connection with blocking reads and
// writes until the client closes (or half-closes) it: read what came, send
// the replies to every complete line, repeat. A last line without LF is
// answered at the end.
func serveConn(fd int, c *fetchadd.Counter) error {
	setNoDelay(fd)
	sess := fetchadd.NewSession(c)
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
