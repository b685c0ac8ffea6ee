package sock

import (
	"unsafe"

	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// epoll(7), Linux's readiness calls, one wrapper each; package poller
// builds an event loop's Poller on them.

// EpollCreate1 is epoll_create1(EPOLL_CLOEXEC): a new epoll instance.
func EpollCreate1() (int, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if t := strace.Out; t != nil {
		t.EpollCreate1(t.Tid(), fd, err)
	}
	return fd, wrap("epoll_create1", err)
}

// EpollCtl is epoll_ctl(epfd, op, fd, {events, fd}).
func EpollCtl(epfd, op, fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	err := retry(func() error { return unix.EpollCtl(epfd, op, fd, &ev) })
	if t := strace.Out; t != nil {
		t.EpollCtl(t.Tid(), epfd, op, fd, &ev, err)
	}
	return wrap("epoll_ctl", err)
}

// EpollWait is epoll_wait(epfd, ready, len(ready), timeout) (epoll_pwait
// with no signal mask on arm64, loong64 and riscv64, whose kernels have
// no epoll_wait, as x/sys makes it: epoll_*_linux.go). It is made raw,
// without telling Go's scheduler (package rawwait), if raw is set or it
// cannot block (timeout 0). An interrupted wait is not retried: it
// returns EINTR.
func EpollWait(epfd int, ready []unix.EpollEvent, timeout int, raw bool) (int, error) {
	var n int
	var err error
	if timeout != 0 && !raw {
		n, err = unix.EpollWait(epfd, ready, timeout)
	} else {
		r, _, errno := unix.RawSyscall6(epollWaitTrap, uintptr(epfd), uintptr(unsafe.Pointer(&ready[0])), uintptr(len(ready)), uintptr(timeout), 0, 0)
		n = int(r)
		if errno != 0 {
			n, err = -1, errnoErr(errno)
		}
	}
	if t := strace.Out; t != nil {
		t.EpollWait(t.Tid(), epollWaitCall, epfd, ready, n, timeout, err)
	}
	return n, wrap(epollWaitCall, err)
}
