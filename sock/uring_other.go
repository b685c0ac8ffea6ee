//go:build !linux

package sock

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// io_uring is Linux's: here NewUring refuses, and the server's uring mode
// with it.

// Uring stands for Linux's io_uring, which this system does not have.
type Uring struct{}

// NewUring refuses: io_uring is Linux's (5.19 or later).
func NewUring(entries, nbufs, bufSize int) (*Uring, error) {
	return nil, &UringRefusedError{Err: wrap("io_uring_setup", unix.ENOSYS), Reason: "io_uring is Linux's; this is " + runtime.GOOS}
}

// Close does nothing: there is no ring.
func (r *Uring) Close() error { return nil }

// CheckEnter does nothing: there is no ring.
func (r *Uring) CheckEnter() error { return nil }
