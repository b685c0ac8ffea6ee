//go:build !linux

package uring

import (
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// io_uring is Linux's: here New refuses, and the server's uring mode
// with it.

// Ring stands for Linux's io_uring, which this system does not have.
type Ring struct{}

// New refuses: io_uring is Linux's (5.19 or later).
func New(entries, nbufs, bufSize int) (*Ring, error) {
	return nil, &RefusedError{Err: os.NewSyscallError("io_uring_setup", unix.ENOSYS), Reason: "io_uring is Linux's; this is " + runtime.GOOS}
}

// Close does nothing: there is no ring.
func (r *Ring) Close() error { return nil }

// CheckEnter does nothing: there is no ring.
func (r *Ring) CheckEnter() error { return nil }
