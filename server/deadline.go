package server

import (
	"errors"
	"time"

	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// deadline is how the blocking modes close a connection that makes no
// progress for the idle time: one deadline per connection, the time of
// its last progress (bytes received or sent) plus the idle time. Each
// wait for the socket is a poll(2) bounded by the time left, as in UNP
// §14.2, never a per-call timeout (SO_RCVTIMEO, SO_SNDTIMEO), which would
// start again at every call and every partial send. With no idle time
// the deadline never passes.
type deadline struct {
	idle time.Duration
	at   time.Time
	pfd  [1]unix.PollFd // poll's argument, kept here so a wait allocates nothing
}

// errIdle says a connection was closed for being quiet too long.
var errIdle = errors.New("idle too long")

func newDeadline(idle time.Duration) *deadline {
	d := &deadline{idle: idle}
	d.progress()
	return d
}

// progress moves the deadline: bytes went in or out just now.
func (d *deadline) progress() {
	if d.idle > 0 {
		d.at = time.Now().Add(d.idle)
	}
}

// wait blocks in poll(2) until fd is ready for events (POLLIN, POLLOUT),
// or fails with errIdle when the deadline passes first.
func (d *deadline) wait(fd int, events int16) error {
	for {
		timeout := -1
		if d.idle > 0 {
			left := time.Until(d.at)
			if left <= 0 {
				return errIdle
			}
			timeout = int((left + time.Millisecond - 1) / time.Millisecond) // never wake early
		}
		d.pfd[0] = unix.PollFd{Fd: int32(fd), Events: events}
		n, err := sock.Poll(d.pfd[:], timeout)
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
	}
}

// read is sock.Read, waiting no longer than the deadline. Without an idle
// time it is the plain blocking read.
func (d *deadline) read(fd int, buf []byte) (int, error) {
	if d.idle > 0 {
		if err := d.wait(fd, unix.POLLIN); err != nil {
			return 0, err
		}
	}
	n, err := sock.Read(fd, buf)
	if n > 0 {
		d.progress()
	}
	return n, err
}

// sendAll sends all of p, like sock.SendAll, but waits for room in the
// socket buffer no longer than the deadline: each send takes what fits
// now (MSG_DONTWAIT), and poll waits for more room. It returns how much
// it sent.
func (d *deadline) sendAll(fd int, p []byte) (sent int, err error) {
	for sent < len(p) {
		n, err := sock.Send(fd, p[sent:], unix.MSG_DONTWAIT)
		switch {
		case errors.Is(err, unix.EAGAIN):
			err = d.wait(fd, unix.POLLOUT)
		case err == nil:
			sent += n
			d.progress()
		}
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}
