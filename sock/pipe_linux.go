package sock

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Pipe returns a non-blocking, close-on-exec pipe, read end first:
// pipe2(2). An event loop watches the read end; another thread writes a
// byte to the write end to wake it.
func Pipe() (r, w int, err error) {
	var p [2]int
	err = unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC)
	if tracer != nil {
		tracer.trace(tracer.tid(), "pipe2", 0, err, fmt.Sprintf("[%d, %d], O_NONBLOCK|O_CLOEXEC", p[0], p[1]))
	}
	if err != nil {
		return -1, -1, wrap("pipe2", err)
	}
	return p[0], p[1], nil
}
