//go:build darwin || freebsd

package sock

import (
	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// kqueue(2), the readiness calls of macOS and FreeBSD, one wrapper each;
// package poller builds an event loop's Poller on them.

// Kqueue is kqueue(), its descriptor made close-on-exec.
func Kqueue() (int, error) {
	fd, err := unix.Kqueue()
	if t := strace.Out; t != nil {
		t.Kqueue(t.Tid(), fd, err)
	}
	if err != nil {
		return -1, wrap("kqueue", err)
	}
	unix.CloseOnExec(fd)
	return fd, nil
}

// Kevent is kevent(kq, changes, len(changes), events, len(events),
// timeout), the timeout in milliseconds (-1: none). A call that only
// makes changes (events nil) is retried on EINTR; one that waits for
// events returns it.
func Kevent(kq int, changes, events []unix.Kevent_t, timeout int) (int, error) {
	var ts *unix.Timespec
	if timeout >= 0 {
		t := unix.NsecToTimespec(int64(timeout) * 1e6)
		ts = &t
	}
	var n int
	var err error
	if events == nil {
		err = retry(func() error { _, err := unix.Kevent(kq, changes, nil, ts); return err })
	} else {
		n, err = unix.Kevent(kq, changes, events, ts)
	}
	if t := strace.Out; t != nil {
		t.Kevent(t.Tid(), kq, changes, events, len(events), n, timeout, err)
	}
	return n, wrap("kevent", err)
}
