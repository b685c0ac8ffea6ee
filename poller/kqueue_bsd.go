//go:build darwin || freebsd

package poller

import (
	"errors"

	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// kqueue is the macOS and FreeBSD Poller: one kqueue, with a read and a
// write filter per descriptor, level-triggered. It is shaped like the
// epoll file: the same five methods, one system call each.
type kqueue struct {
	blockingWait
	fd     int
	ready  [maxEvents]unix.Kevent_t
	events []Event
}

// NewEvent returns the OS's scalable Poller: kqueue on macOS and FreeBSD
// (kqueue, kevent).
func NewEvent() (Poller, error) {
	fd, err := sock.Kqueue()
	if err != nil {
		return nil, err
	}
	return &kqueue{fd: fd, events: make([]Event, 0, maxEvents)}, nil
}

// change applies one change to each of fd's two filters.
func (p *kqueue) change(fd int, readFlags, writeFlags int) error {
	var ch [2]unix.Kevent_t
	unix.SetKevent(&ch[0], fd, unix.EVFILT_READ, readFlags)
	unix.SetKevent(&ch[1], fd, unix.EVFILT_WRITE, writeFlags)
	_, err := sock.Kevent(p.fd, ch[:], nil, -1)
	return err
}

func onOff(on bool) int {
	if on {
		return unix.EV_ENABLE
	}
	return unix.EV_DISABLE
}

func (p *kqueue) Add(fd int, read, write bool) error {
	return p.change(fd, unix.EV_ADD|onOff(read), unix.EV_ADD|onOff(write))
}

func (p *kqueue) Modify(fd int, read, write bool) error {
	return p.change(fd, onOff(read), onOff(write))
}

func (p *kqueue) Remove(fd int) error {
	return p.change(fd, unix.EV_DELETE, unix.EV_DELETE)
}

func (p *kqueue) Wait(timeout int) ([]Event, error) {
	n, err := sock.Kevent(p.fd, nil, p.ready[:], timeout)
	if errors.Is(err, unix.EINTR) {
		return p.events[:0], nil
	}
	if err != nil {
		return nil, err
	}
	p.events = p.events[:0]
	for _, ev := range p.ready[:n] {
		broken := ev.Flags&(unix.EV_EOF|unix.EV_ERROR) != 0
		p.events = append(p.events, Event{
			Fd:    int(ev.Ident),
			Read:  broken || ev.Filter == unix.EVFILT_READ,
			Write: broken || ev.Filter == unix.EVFILT_WRITE,
		})
	}
	return p.events, nil
}

func (p *kqueue) Name() string { return EventName }

func (p *kqueue) Close() error { return sock.Close(p.fd) }

// EventName names the poller NewEvent returns.
const EventName = "kqueue"
