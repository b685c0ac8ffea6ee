package sock

import (
	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// Pipe returns a non-blocking, close-on-exec pipe, read end first:
// pipe2(2) on Linux; pipe(2), then fcntl for each end, on macOS and
// FreeBSD. An event loop watches the read end; another thread writes a
// byte to the write end to wake it.
func Pipe() (r, w int, err error) {
	p, err := pipe()
	if t := strace.Out; t != nil {
		t.Pipe(t.Tid(), pipeCall, p, err)
	}
	if err != nil {
		return -1, -1, wrap(pipeCall, err)
	}
	if err := pipeStandIns(p); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return -1, -1, err
	}
	return p[0], p[1], nil
}
