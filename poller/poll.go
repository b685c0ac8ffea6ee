package poller

import (
	"os"

	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// pollPoller is the portable Poller: an array of struct pollfd handed to
// poll(2) whole on every Wait (Stevens' tcpservpoll01). The kernel scans
// the entire array each time, so a call costs time in proportion to the
// number of connections, ready or not.
type pollPoller struct {
	blockingWait
	fds    []unix.PollFd
	slot   map[int]int // fd -> its index in fds
	events []Event
}

// NewPoll returns a Poller that waits with poll(2) (on Linux, x/sys
// makes the ppoll system call).
func NewPoll() Poller {
	return &pollPoller{slot: make(map[int]int)}
}

func pollMask(read, write bool) int16 {
	var m int16
	if read {
		m |= unix.POLLIN
	}
	if write {
		m |= unix.POLLOUT
	}
	return m // POLLERR, POLLHUP and POLLNVAL are always reported
}

func (p *pollPoller) Add(fd int, read, write bool) error {
	if _, ok := p.slot[fd]; ok {
		return os.NewSyscallError("poll", unix.EEXIST)
	}
	p.slot[fd] = len(p.fds)
	p.fds = append(p.fds, unix.PollFd{Fd: int32(fd), Events: pollMask(read, write)})
	return nil
}

func (p *pollPoller) Modify(fd int, read, write bool) error {
	i, ok := p.slot[fd]
	if !ok {
		return os.NewSyscallError("poll", unix.ENOENT)
	}
	p.fds[i].Events = pollMask(read, write)
	return nil
}

func (p *pollPoller) Remove(fd int) error {
	i, ok := p.slot[fd]
	if !ok {
		return os.NewSyscallError("poll", unix.ENOENT)
	}
	last := len(p.fds) - 1
	p.fds[i] = p.fds[last] // move the last entry into the hole
	p.slot[int(p.fds[i].Fd)] = i
	p.fds = p.fds[:last]
	delete(p.slot, fd)
	return nil
}

func (p *pollPoller) Wait(timeout int) ([]Event, error) {
	n, err := sock.Poll(p.fds, timeout)
	if err != nil {
		return nil, err
	}
	p.events = p.events[:0]
	for i := 0; n > 0 && i < len(p.fds); i++ {
		re := p.fds[i].Revents
		if re == 0 {
			continue
		}
		n--
		broken := re&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0
		p.events = append(p.events, Event{
			Fd:    int(p.fds[i].Fd),
			Read:  broken || re&unix.POLLIN != 0,
			Write: broken || re&unix.POLLOUT != 0,
		})
	}
	return p.events, nil
}

func (p *pollPoller) Name() string { return "poll" }

func (p *pollPoller) Close() error { return nil }
