//go:build darwin || freebsd

package strace

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// pipeArgs are pipe's arguments after the descriptors: none.
const pipeArgs = ""

// pollArgs are poll's arguments: the pollfds, how many, the timeout.
func pollArgs(in string, nfds, timeout int) string {
	return fmt.Sprintf("%s, %d, %d", in, nfds, timeout)
}

var (
	filterNames = []Flag{{unix.EVFILT_READ, "EVFILT_READ"}, {unix.EVFILT_WRITE, "EVFILT_WRITE"}}
	evFlagNames = []Flag{{unix.EV_ADD, "EV_ADD"}, {unix.EV_DELETE, "EV_DELETE"}, {unix.EV_ENABLE, "EV_ENABLE"}, {unix.EV_DISABLE, "EV_DISABLE"}, {unix.EV_EOF, "EV_EOF"}, {unix.EV_ERROR, "EV_ERROR"}}
)

func keventsString(evs []unix.Kevent_t) string {
	var parts []string
	for _, ev := range evs {
		parts = append(parts, fmt.Sprintf("{ident=%d, filter=%s, flags=%s, fflags=%d, data=%d}",
			ev.Ident, name(int(ev.Filter), filterNames), Flags(int(ev.Flags), evFlagNames), ev.Fflags, ev.Data))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Kqueue traces kqueue.
func (t *Tracer) Kqueue(tid, kq int, err error) {
	t.Call(tid, "kqueue", kq, err, "")
}

// Kevent traces kevent(kq, changes, nchanges, events, nevents, timeout).
func (t *Tracer) Kevent(tid int, kq int, changes, events []unix.Kevent_t, nevents, n, timeout int, err error) {
	ch, ev := "NULL", "NULL"
	if len(changes) > 0 {
		ch = keventsString(changes)
	}
	if events != nil {
		ev = keventsString(events[:max(n, 0)])
	}
	ts := "NULL"
	if timeout >= 0 {
		ts = fmt.Sprintf("{tv_sec=%d, tv_nsec=%d}", timeout/1000, timeout%1000*1e6)
	}
	t.Call(tid, "kevent", n, err, fmt.Sprintf("%d, %s, %d, %s, %d, %s", kq, ch, len(changes), ev, nevents, ts))
}

// threadID stands for the calling thread's id. x/sys has no portable
// gettid for macOS and FreeBSD, so the process id is shown.
func threadID() int { return unix.Getpid() }
