package sock

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// pipeArgs are pipe2's arguments after the descriptors: its flags.
const pipeArgs = ", O_NONBLOCK|O_CLOEXEC"

// pollArgs are ppoll's arguments as strace writes them: the pollfds, how
// many, the timeout (NULL: none), and no signal mask.
func pollArgs(in string, nfds, timeout int) string {
	ts := "NULL"
	if timeout >= 0 {
		ts = fmt.Sprintf("{tv_sec=%d, tv_nsec=%d}", timeout/1000, timeout%1000*1e6)
	}
	return fmt.Sprintf("%s, %d, %s, NULL, 0", in, nfds, ts)
}

var epollNames = []flagName{{unix.EPOLLIN, "EPOLLIN"}, {unix.EPOLLOUT, "EPOLLOUT"}, {unix.EPOLLERR, "EPOLLERR"}, {unix.EPOLLHUP, "EPOLLHUP"}, {unix.EPOLLRDHUP, "EPOLLRDHUP"}}

func epollEventString(ev *unix.EpollEvent) string {
	events := "0"
	if ev.Events != 0 {
		events = flagNames(int(ev.Events), epollNames)
	}
	u64 := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
	return fmt.Sprintf("{events=%s, data={u32=%d, u64=%d}}", events, uint32(ev.Fd), u64)
}

// epollCreate1 traces epoll_create1.
func (t *traceWriter) epollCreate1(tid, epfd int, err error) {
	t.trace(tid, "epoll_create1", epfd, err, "EPOLL_CLOEXEC")
}

// epollCtl traces epoll_ctl: the operation, and the event but for a
// delete.
func (t *traceWriter) epollCtl(tid int, epfd, op, fd int, ev *unix.EpollEvent, err error) {
	ops := []flagName{{unix.EPOLL_CTL_ADD, "EPOLL_CTL_ADD"}, {unix.EPOLL_CTL_MOD, "EPOLL_CTL_MOD"}, {unix.EPOLL_CTL_DEL, "EPOLL_CTL_DEL"}}
	arg := epollEventString(ev)
	if op == unix.EPOLL_CTL_DEL {
		arg = fmt.Sprintf("%p", ev) // strace does not read the event of a delete
	}
	t.trace(tid, "epoll_ctl", 0, err, fmt.Sprintf("%d, %s, %d, %s", epfd, name(op, ops), fd, arg))
}

// epollWait traces epoll_wait or epoll_pwait: the events that came back,
// or the buffer's address if the call failed.
func (t *traceWriter) epollWait(tid int, epfd int, ready []unix.EpollEvent, n, timeout int, err error) {
	var evs []string
	for i := 0; i < n; i++ {
		evs = append(evs, epollEventString(&ready[i]))
	}
	args := fmt.Sprintf("%d, [%s], %d, %d", epfd, strings.Join(evs, ", "), len(ready), timeout)
	if err != nil {
		args = fmt.Sprintf("%d, %p, %d, %d", epfd, &ready[0], len(ready), timeout)
	}
	if epollWaitCall == "epoll_pwait" {
		args += ", NULL, 0"
	}
	t.trace(tid, epollWaitCall, n, err, args)
}

// threadID is the calling thread's id, as strace -f prints it.
func threadID() int { return unix.Gettid() }
