package strace

import (
	"fmt"
	"strings"
	"unsafe"

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

var epollNames = []Flag{{unix.EPOLLIN, "EPOLLIN"}, {unix.EPOLLOUT, "EPOLLOUT"}, {unix.EPOLLERR, "EPOLLERR"}, {unix.EPOLLHUP, "EPOLLHUP"}, {unix.EPOLLRDHUP, "EPOLLRDHUP"}}

func epollEventString(ev *unix.EpollEvent) string {
	events := "0"
	if ev.Events != 0 {
		events = Flags(int(ev.Events), epollNames)
	}
	u64 := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
	return fmt.Sprintf("{events=%s, data={u32=%d, u64=%d}}", events, uint32(ev.Fd), u64)
}

// EpollCreate1 traces epoll_create1.
func (t *Tracer) EpollCreate1(tid, epfd int, err error) {
	t.Call(tid, "epoll_create1", epfd, err, "EPOLL_CLOEXEC")
}

// EpollCtl traces epoll_ctl: the operation, and the event but for a
// delete.
func (t *Tracer) EpollCtl(tid int, epfd, op, fd int, ev *unix.EpollEvent, err error) {
	ops := []Flag{{unix.EPOLL_CTL_ADD, "EPOLL_CTL_ADD"}, {unix.EPOLL_CTL_MOD, "EPOLL_CTL_MOD"}, {unix.EPOLL_CTL_DEL, "EPOLL_CTL_DEL"}}
	arg := epollEventString(ev)
	if op == unix.EPOLL_CTL_DEL {
		arg = fmt.Sprintf("%p", ev) // strace does not read the event of a delete
	}
	t.Call(tid, "epoll_ctl", 0, err, fmt.Sprintf("%d, %s, %d, %s", epfd, name(op, ops), fd, arg))
}

// EpollWait traces epoll_wait or epoll_pwait (call): the events that
// came back, or the buffer's address if the call failed.
func (t *Tracer) EpollWait(tid int, call string, epfd int, ready []unix.EpollEvent, n, timeout int, err error) {
	var evs []string
	for i := 0; i < n; i++ {
		evs = append(evs, epollEventString(&ready[i]))
	}
	args := fmt.Sprintf("%d, [%s], %d, %d", epfd, strings.Join(evs, ", "), len(ready), timeout)
	if err != nil {
		args = fmt.Sprintf("%d, %p, %d, %d", epfd, &ready[0], len(ready), timeout)
	}
	if call == "epoll_pwait" {
		args += ", NULL, 0"
	}
	t.Call(tid, call, n, err, args)
}

// Peername traces getsockopt(SO_PEERNAME) as strace does: the address's
// bytes, or the buffer's address if the call failed, and the length.
func (t *Tracer) Peername(tid, fd int, rsa *unix.RawSockaddrAny, size uint32, err error) {
	val := fmt.Sprintf("%p", rsa)
	if err == nil {
		val = t.Quote(unsafe.Slice((*byte)(unsafe.Pointer(rsa)), size))
	}
	t.Call(tid, "getsockopt", 0, err, fmt.Sprintf("%d, SOL_SOCKET, SO_PEERNAME, %s, [%d]", fd, val, size))
}

// threadID is the calling thread's id, as strace -f prints it.
func threadID() int { return unix.Gettid() }
