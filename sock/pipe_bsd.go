//go:build darwin || freebsd

package sock

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Pipe returns a non-blocking, close-on-exec pipe, read end first:
// pipe(2), then fcntl for each end (macOS has no pipe2). An event loop
// watches the read end; another thread writes a byte to the write end to
// wake it.
func Pipe() (r, w int, err error) {
	var p [2]int
	syscall.ForkLock.RLock()
	err = unix.Pipe(p[:])
	if err == nil {
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if tracer != nil {
		tracer.trace(tracer.tid(), "pipe", 0, err, fmt.Sprintf("[%d, %d]", p[0], p[1]))
	}
	if err != nil {
		return -1, -1, wrap("pipe", err)
	}
	for _, fd := range p {
		if err := SetNonblock(fd); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return -1, -1, err
		}
	}
	return p[0], p[1], nil
}
