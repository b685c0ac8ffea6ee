package sock

import "golang.org/x/sys/unix"

// Linux has pipe2, which takes O_NONBLOCK and O_CLOEXEC as flags, and
// ppoll, which says how much of the timeout was left. These are the
// system calls behind Pipe and Poll there.

// pipeCall is the system call Pipe makes.
const pipeCall = "pipe2"

// pipe is pipe2(2) with O_NONBLOCK and O_CLOEXEC.
func pipe() (p [2]int, err error) {
	err = unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC)
	return p, err
}

// pipeStandIns: pipe2's flags did it all.
func pipeStandIns(p [2]int) error { return nil }

// pollCall is the system call Poll makes.
const pollCall = "ppoll"

// poll is ppoll(2) with the timeout as a struct timespec, in which the
// kernel leaves the time that was left (strace's "left"); nil if there is
// no timeout.
func poll(fds []unix.PollFd, timeout int) (int, *unix.Timespec, error) {
	if timeout < 0 {
		n, err := unix.Ppoll(fds, nil, nil)
		return n, nil, err
	}
	ts := unix.NsecToTimespec(int64(timeout) * 1e6)
	n, err := unix.Ppoll(fds, &ts, nil)
	return n, &ts, err
}
