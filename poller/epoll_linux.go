package poller

import (
	"errors"

	"fetchadd/rawwait"
	"fetchadd/sock"

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

// NewEvent returns the OS's scalable Poller: epoll on Linux
// (epoll_create1, epoll_ctl, epoll_wait).
func NewEvent() (Poller, error) {
	fd, err := sock.EpollCreate1()
	if err != nil {
		return nil, err
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

func (p *epoll) Add(fd int, read, write bool) error {
	return sock.EpollCtl(p.fd, unix.EPOLL_CTL_ADD, fd, epollMask(read, write))
}

func (p *epoll) Modify(fd int, read, write bool) error {
	return sock.EpollCtl(p.fd, unix.EPOLL_CTL_MOD, fd, epollMask(read, write))
}

func (p *epoll) Remove(fd int) error {
	return sock.EpollCtl(p.fd, unix.EPOLL_CTL_DEL, fd, 0)
}

// Wait waits raw if WaitRaw said so, but after a raw wait the runtime
// interrupted: that one is made the scheduler's way (rawwait).
func (p *epoll) Wait(timeout int) ([]Event, error) {
	raw := p.raw && !p.idle
	n, err := sock.EpollWait(p.fd, p.ready[:], timeout, raw)
	p.idle = raw && timeout != 0 && errors.Is(err, unix.EINTR)
	if errors.Is(err, unix.EINTR) {
		return p.events[:0], nil
	}
	if err != nil {
		return nil, err
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

// WaitRaw makes the blocking Waits raw system calls, if a P can be spared
// (rawwait). Close gives it back.
func (p *epoll) WaitRaw() bool {
	if !p.raw {
		p.raw = rawwait.Reserve()
	}
	return p.raw
}

func (p *epoll) Name() string { return EventName }

func (p *epoll) Close() error {
	if p.raw {
		p.raw = false
		rawwait.Release()
	}
	return sock.Close(p.fd)
}

// EventName names the poller NewEvent returns.
const EventName = "epoll"
