package server

import (
	"errors"
	"time"

	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// deadline is how the blocking modes close a connection that makes no
// progress for the idle time: one deadline per connection, the time of
// its last progress (bytes received or sent) plus the idle time.
//
// A read waits in the plain blocking read(2), with SO_RCVTIMEO set to the
// idle time once for the connection: the server reads only when every
// reply has gone, so the read starts at the last progress, and a timeout
// that starts again with each read is the deadline. A send is another
// matter: a send that takes part of a reply and then waits would start a
// per-call timeout (SO_SNDTIMEO) again at every partial send, so sends
// take what fits now (MSG_DONTWAIT) and poll(2) waits for room no longer
// than the time left, as in UNP §14.2. With no idle time the deadline
// never passes. (A read that a signal handler interrupts fails with EINTR
// when the socket has a timeout, and sock.Read reads again with the whole
// timeout: such a signal, rare in a server, lengthens that wait.)
type deadline struct {
	idle  time.Duration
	at    time.Time
	stopR int            // the server's stop pipe: readable once it stops
	pfd   [2]unix.PollFd // poll's argument, kept here so a wait allocates nothing
}

// errIdle says a connection was closed for being quiet too long.
var errIdle = errors.New("idle too long")

// errStopped says the server stopped while a send waited for room: the
// replies the client has not made room for are not sent.
var errStopped = errors.New("the server stopped before the client read its replies")

// maxWait bounds one poll's timeout: BSD's poll takes milliseconds in a C
// int, which an idle time of 25 days would pass. The wait goes on after.
const maxWait = 1 << 30

// newDeadline starts the deadline of connection fd, and sets its read
// timeout. stopR is the server's stop pipe (see Server.Stop).
func newDeadline(fd int, idle time.Duration, stopR int) (*deadline, error) {
	d := &deadline{idle: idle, stopR: stopR}
	d.extend()
	if idle > 0 {
		tv := unix.NsecToTimeval(idle.Nanoseconds())
		if err := sock.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// extend moves the deadline: bytes went in or out just now.
func (d *deadline) extend() {
	if d.idle > 0 {
		d.at = time.Now().Add(d.idle)
	}
}

// wait blocks in poll(2) until fd is ready for events (POLLIN, POLLOUT),
// or fails with errIdle when the deadline passes first, or with
// errStopped when the server stops.
func (d *deadline) wait(fd int, events int16) error {
	for {
		timeout := -1
		if d.idle > 0 {
			left := time.Until(d.at)
			if left <= 0 {
				return errIdle
			}
			timeout = int(min((left+time.Millisecond-1)/time.Millisecond, maxWait)) // never wake early
		}
		d.pfd[0] = unix.PollFd{Fd: int32(fd), Events: events}
		d.pfd[1] = unix.PollFd{Fd: int32(d.stopR), Events: unix.POLLIN}
		n, err := sock.Poll(d.pfd[:], timeout)
		switch {
		case err != nil:
			return err
		case d.pfd[1].Revents != 0:
			return errStopped
		case n > 0:
			return nil
		}
	}
}

// read is sock.Read; it fails with errIdle when the read timeout passes
// with nothing received (EAGAIN).
func (d *deadline) read(fd int, buf []byte) (int, error) {
	n, err := sock.Read(fd, buf)
	switch {
	case errors.Is(err, unix.EAGAIN):
		return 0, errIdle
	case n > 0:
		d.extend()
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
			d.extend()
		}
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}
