package sock

import (
	"unsafe"

	"fetchadd/rawwait"

	"golang.org/x/sys/unix"
)

// epoll is the Linux Poller: one epoll instance, level-triggered.
type epoll struct {
	fd     int
	raw    bool // blocking Waits are raw system calls (rawwait)
	idle   bool // the last raw Wait was interrupted: wait the scheduler's way
	ready  [maxEvents]unix.EpollEvent
	events []Event
}

// NewEventPoller returns the OS's scalable Poller: epoll on Linux
// (epoll_create1, epoll_ctl, epoll_wait).
func NewEventPoller() (Poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if tracer != nil {
		tracer.epollCreate1(tracer.tid(), fd, err)
	}
	if err != nil {
		return nil, wrap("epoll_create1", err)
	}
	return &epoll{fd: fd, events: make([]Event, 0, maxEvents)}, nil
}

func epollMask(read, write bool) uint32 {
	var m uint32
	if read {
		m |= unix.EPOLLIN
	}
	if write {
		m |= unix.EPOLLOUT
	}
	return m // EPOLLERR and EPOLLHUP are always reported
}

func (p *epoll) ctl(op, fd int, mask uint32) error {
	ev := unix.EpollEvent{Events: mask, Fd: int32(fd)}
	err := retry(func() error { return unix.EpollCtl(p.fd, op, fd, &ev) })
	if tracer != nil {
		tracer.epollCtl(tracer.tid(), p.fd, op, fd, &ev, err)
	}
	return wrap("epoll_ctl", err)
}

func (p *epoll) Add(fd int, read, write bool) error {
	return p.ctl(unix.EPOLL_CTL_ADD, fd, epollMask(read, write))
}

func (p *epoll) Modify(fd int, read, write bool) error {
	return p.ctl(unix.EPOLL_CTL_MOD, fd, epollMask(read, write))
}

func (p *epoll) Remove(fd int) error {
	return p.ctl(unix.EPOLL_CTL_DEL, fd, 0)
}

func (p *epoll) Wait(timeout int) ([]Event, error) {
	n, err := p.wait(timeout)
	if tracer != nil {
		tracer.epollWait(tracer.tid(), p.fd, p.ready[:], n, timeout, err)
	}
	if err == unix.EINTR {
		return p.events[:0], nil
	}
	if err != nil {
		return nil, wrap("epoll_wait", err)
	}
	p.events = p.events[:0]
	for _, ev := range p.ready[:n] {
		broken := ev.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0
		p.events = append(p.events, Event{
			Fd:    int(ev.Fd),
			Read:  broken || ev.Events&unix.EPOLLIN != 0,
			Write: broken || ev.Events&unix.EPOLLOUT != 0,
		})
	}
	return p.events, nil
}

// wait is epoll_wait(2); raw if it cannot block or WaitRaw said so. (On
// arm64, loong64 and riscv64, whose kernels have no epoll_wait, it is
// epoll_pwait with no signal mask, as x/sys makes it: epoll_*_linux.go.)
func (p *epoll) wait(timeout int) (int, error) {
	if timeout != 0 && (!p.raw || p.idle) {
		p.idle = false
		return unix.EpollWait(p.fd, p.ready[:], timeout)
	}
	n, _, errno := unix.RawSyscall6(epollWaitTrap, uintptr(p.fd), uintptr(unsafe.Pointer(&p.ready[0])), uintptr(len(p.ready)), uintptr(timeout), 0, 0)
	if errno != 0 {
		p.idle = errno == unix.EINTR && timeout != 0
		return -1, errnoErr(errno)
	}
	return int(n), nil
}

// WaitRaw makes the blocking Waits raw system calls, if a P can be spared
// (rawwait). Close gives it back.
func (p *epoll) WaitRaw() bool {
	if !p.raw {
		p.raw = rawwait.Reserve()
	}
	return p.raw
}

func (p *epoll) Name() string { return EventPollerName }

func (p *epoll) Close() error {
	if p.raw {
		p.raw = false
		rawwait.Release()
	}
	return Close(p.fd)
}

// EventPollerName names the poller NewEventPoller returns.
const EventPollerName = "epoll"
