//go:build darwin || freebsd

package sock

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// macOS and FreeBSD make the pipe with pipe(2) and set its flags with
// fcntl (macOS has no pipe2), and wait with poll(2). These are the system
// calls behind Pipe and Poll there.

// pipeCall is the system call Pipe makes.
const pipeCall = "pipe"

// pipe is pipe(2), then fcntl(FD_CLOEXEC) for each end.
func pipe() (p [2]int, err error) {
	syscall.ForkLock.RLock()
	err = unix.Pipe(p[:])
	if err == nil {
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	return p, err
}

// pipeStandIns is fcntl(O_NONBLOCK) for each end.
func pipeStandIns(p [2]int) error {
	for _, fd := range p {
		if err := SetNonblock(fd); err != nil {
			return err
		}
	}
	return nil
}

// pollCall is the system call Poll makes.
const pollCall = "poll"

// poll is poll(2). It does not say how much time was left.
func poll(fds []unix.PollFd, timeout int) (int, *unix.Timespec, error) {
	n, err := unix.Poll(fds, timeout)
	return n, nil, err
}
