//go:build darwin || freebsd

package sock

import "golang.org/x/sys/unix"

// kqueue is the macOS and FreeBSD Poller: one kqueue, with a read and a
// write filter per descriptor, level-triggered. It is shaped like the
// epoll file: the same five methods, one system call each.
type kqueue struct {
	blockingWait
	fd     int
	ready  [maxEvents]unix.Kevent_t
	events []Event
}

// NewEventPoller returns the OS's scalable Poller: kqueue on macOS and
// FreeBSD (kqueue, kevent).
func NewEventPoller() (Poller, error) {
	fd, err := unix.Kqueue()
	if tracer != nil {
		tracer.kqueue(tracer.tid(), fd, err)
	}
	if err != nil {
		return nil, wrap("kqueue", err)
	}
	unix.CloseOnExec(fd)
	return &kqueue{fd: fd, events: make([]Event, 0, maxEvents)}, nil
}

// change applies one change to each of fd's two filters.
func (p *kqueue) change(fd int, readFlags, writeFlags int) error {
	var ch [2]unix.Kevent_t
	unix.SetKevent(&ch[0], fd, unix.EVFILT_READ, readFlags)
	unix.SetKevent(&ch[1], fd, unix.EVFILT_WRITE, writeFlags)
	err := retry(func() error { _, err := unix.Kevent(p.fd, ch[:], nil, nil); return err })
	if tracer != nil {
		tracer.kevent(tracer.tid(), p.fd, ch[:], nil, 0, 0, -1, err)
	}
	return wrap("kevent", err)
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
	var ts *unix.Timespec
	if timeout >= 0 {
		t := unix.NsecToTimespec(int64(timeout) * 1e6)
		ts = &t
	}
	n, err := unix.Kevent(p.fd, nil, p.ready[:], ts)
	if tracer != nil {
		tracer.kevent(tracer.tid(), p.fd, nil, p.ready[:], len(p.ready), n, timeout, err)
	}
	if err == unix.EINTR {
		return p.events[:0], nil
	}
	if err != nil {
		return nil, wrap("kevent", err)
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

func (p *kqueue) Name() string { return EventPollerName }

func (p *kqueue) Close() error { return Close(p.fd) }

// EventPollerName names the poller NewEventPoller returns.
const EventPollerName = "kqueue"
