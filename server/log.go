package server

import (
	"errors"

	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

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
