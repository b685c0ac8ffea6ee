package server

import (
	"sync"

	"fetchadd/sock"
)

// serveThreaded is the thread-per-connection server (Python's
// socketserver.ThreadingTCPServer): the accept loop of the iterative
// server, but each connection is served by a goroutine of its own, making
// the same blocking calls. A goroutine blocked in read holds an OS thread,
// so N clients cost N threads and their stacks; the connection limit
// (at most MaxThreads) keeps that below the Go runtime's 10,000.
func (s *Server) serveThreaded() error {
	var wg sync.WaitGroup
	defer wg.Wait() // Stop has woken every connection; let them finish
	for {
		fd, peer, err := s.acceptBlocking()
		if fd < 0 {
			return err
		}
		if s.full(fd, peer) {
			continue
		}
		if !s.track(fd) {
			return nil
		}
		s.logger.Printf("fd %d: connection from %s", fd, sock.String(peer))
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.serveConn(fd)
			s.closeTracked(fd)
			s.logConnEnd(fd, peer, err)
		}()
	}
}
