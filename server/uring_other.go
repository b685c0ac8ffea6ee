//go:build !linux

package server

// serveUring is never called here: Listen refuses the uring mode, which
// is Linux's (CheckUring).
func (s *Server) serveUring() error { return CheckUring() }
