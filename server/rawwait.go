package server

import "fetchadd/rawwait"

// Raw waits (package rawwait has the policy): the threads of the event and
// uring loops keep their P while they wait in epoll_wait or
// io_uring_enter, as a C event loop keeps its thread, where a P can be
// spared. newLoop asks its poller for that (WaitRaw: epoll's only),
// uloop.serve its ring; SpareP makes the P to spare.

// SpareP gives the event and uring modes a P per loop and one more
// (rawwait.SpareP): it raises GOMAXPROCS to Loops+1 where it is lower, so
// that every loop may wait raw. The program calls it before Serve; a test
// that serves in its own process may leave its GOMAXPROCS as it is.
func (s *Server) SpareP() {
	if s.cfg.Mode == Event || s.cfg.Mode == Uring {
		rawwait.SpareP(s.cfg.Loops)
	}
}
