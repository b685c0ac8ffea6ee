package sock

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"fetchadd/rawwait"
	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// The two queues at work: an operation is queued as an SQE (PrepAccept,
// PrepRecv, PrepSend, PrepRead, PrepCancel), Enter submits the queued SQEs and waits for
// completions in one io_uring_enter, and Reap reads the CQEs.
//
// Each SQE's user data, given back in its CQE, is the operation and the
// descriptor: (opcode << 56) | fd. A completion so says by itself what
// it completes; the caller needs no table of requests, only the rule
// that it has at most one operation of a kind in flight on a descriptor.

// The operations the server uses, IORING_OP_* (Completion.Op).
const (
	OpAccept      = 13 // IORING_OP_ACCEPT
	OpAsyncCancel = 14 // IORING_OP_ASYNC_CANCEL
	OpRead        = 22 // IORING_OP_READ
	OpSend        = 26 // IORING_OP_SEND
	OpRecv        = 27 // IORING_OP_RECV
)

// opNames name the operations, in errors and traces.
var opNames = map[uint8]string{
	OpAccept: "IORING_OP_ACCEPT", OpAsyncCancel: "IORING_OP_ASYNC_CANCEL", OpRead: "IORING_OP_READ",
	OpSend: "IORING_OP_SEND", OpRecv: "IORING_OP_RECV",
}

// More of the ABI.
const (
	sqeBufferSelect   = 1 << 5 // IOSQE_BUFFER_SELECT: the kernel picks the buffer
	acceptMultishot   = 1 << 0 // IORING_ACCEPT_MULTISHOT, in sqe.ioprio
	recvPollFirst     = 1 << 0 // IORING_RECVSEND_POLL_FIRST, in sqe.ioprio
	cancelAll         = 1 << 0 // IORING_ASYNC_CANCEL_ALL: every match, not the first
	cancelFd          = 1 << 1 // IORING_ASYNC_CANCEL_FD: match by descriptor
	cancelAny         = 1 << 2 // IORING_ASYNC_CANCEL_ANY: match any operation
	cqeFBuffer        = 1 << 0 // IORING_CQE_F_BUFFER: flags>>16 is a buffer id
	cqeFMore          = 1 << 1 // IORING_CQE_F_MORE: a multishot operation goes on
	cqeFSockNonEmpty  = 1 << 2 // IORING_CQE_F_SOCK_NONEMPTY: a receive left more to read
	cqeBufferShift    = 16
	enterGetEvents    = 1 << 0 // IORING_ENTER_GETEVENTS: wait for min_complete CQEs
	enterExtArg       = 1 << 3 // IORING_ENTER_EXT_ARG: the last arguments are a getevents_arg
	sizeofGetEventArg = 24
)

// Completion is one CQE, read: which operation on which descriptor it
// completes, and how it went.
type Completion struct {
	Op    uint8  // the operation: OpRecv, OpSend, ...
	Fd    int    // the descriptor it was on (-1 for PrepCancelAll)
	Res   int32  // its result: a count, a new descriptor, or -errno
	Flags uint32 // IORING_CQE_F_*: see More and Uring.Buffer
}

// Errno is the completion's error number, or 0 if it succeeded.
func (c Completion) Errno() unix.Errno {
	if c.Res >= 0 {
		return 0
	}
	return unix.Errno(-c.Res)
}

// Err is the completion's error, named after its operation
// ("IORING_OP_RECV: connection reset by peer"), or nil.
func (c Completion) Err() error {
	if c.Res >= 0 {
		return nil
	}
	return wrap(opNames[c.Op], errnoErr(c.Errno()))
}

// More says that a multishot operation goes on: more completions will
// come for the same SQE (IORING_CQE_F_MORE).
func (c Completion) More() bool { return c.Flags&cqeFMore != 0 }

// Unread says that a receive left more to read in its socket, bytes or
// the end of the stream (IORING_CQE_F_SOCK_NONEMPTY, where the kernel
// sets it: the 6.18 here does for TCP). False says nothing where the
// kernel does not set it.
func (c Completion) Unread() bool { return c.Flags&cqeFSockNonEmpty != 0 }

// userData is what an SQE carries to its CQE: the operation and the
// descriptor.
func userData(op uint8, fd int) uint64 { return uint64(op)<<56 | uint64(uint32(fd)) }

// next returns the next free SQE, holding op on fd and nothing else, and
// counts the operation in flight. A full queue is submitted first (a
// system call in the middle of a batch, which a queue as long as a
// batch's work avoids; submit retries EBUSY and EAGAIN a few times). A
// failed submit is kept for Enter to report. If the queue is still
// full, the operation is not queued: it is written to a spare SQE that
// goes nowhere and is not counted in flight, and the error kept for
// Enter names it, so that the loop ends rather than wait for a
// completion that will not come.
func (r *Uring) next(op uint8, fd int) *sqe {
	if r.tail-atomic.LoadUint32(r.sqHead) > r.sqMask {
		err := r.submit()
		if r.tail-atomic.LoadUint32(r.sqHead) > r.sqMask {
			if err == nil {
				err = errors.New("io_uring_enter: the kernel took no SQE of a full queue")
			}
			err = fmt.Errorf("%s on fd %d not queued: %w", opNames[op], fd, err)
		}
		if err != nil && r.err == nil {
			r.err = err
		}
		if r.tail-atomic.LoadUint32(r.sqHead) > r.sqMask {
			r.spare = sqe{}
			return &r.spare
		}
	}
	e := &r.sqes[r.tail&r.sqMask]
	*e = sqe{opcode: op, fd: int32(fd), userData: userData(op, fd)}
	r.tail++
	r.inflight++
	return e
}

// PrepAccept queues a multishot accept on the listening socket fd
// (IORING_OP_ACCEPT with IORING_ACCEPT_MULTISHOT, 5.19): one SQE for all
// the connections to come. Each completes with its new descriptor
// (close-on-exec) and IORING_CQE_F_MORE; a completion without it, an
// error such as EMFILE, ends the accept, and PrepAccept must be queued
// again. It asks for no address: the kernel would write every
// connection's into the same buffer, and may accept several before the
// program reads one (see Peername).
func (r *Uring) PrepAccept(fd int) {
	e := r.next(OpAccept, fd)
	e.ioprio = acceptMultishot
	e.opFlags = unix.SOCK_CLOEXEC
	if strace.Out != nil {
		r.traceSubmit(e, acceptArgs(fd))
	}
}

// PrepRecv queues a receive on fd into a buffer the kernel picks from the
// buffer ring when bytes come (IORING_OP_RECV with IOSQE_BUFFER_SELECT,
// group 0), so that a connection waiting for its next request holds no
// buffer. It completes as recv(2) returns: a count (Buffer says where the
// bytes are), 0 at the end of the stream, or -errno; -ENOBUFS if the
// ring had no buffer left. With IORING_RECVSEND_POLL_FIRST (5.19) the
// kernel waits for bytes before it tries: a server queues the next
// receive just after the last one emptied the socket, where a first try
// would find nothing.
func (r *Uring) PrepRecv(fd int) {
	e := r.next(OpRecv, fd)
	e.flags = sqeBufferSelect
	e.ioprio = recvPollFirst
	e.len = uint32(r.bufs.size)
	if strace.Out != nil {
		r.traceSubmit(e, recvArgs(fd, r.bufs.size))
	}
}

// PrepRecvNow queues a receive as PrepRecv does, but one that does not wait
// (MSG_DONTWAIT, without IORING_RECVSEND_POLL_FIRST): the kernel tries it
// as it is submitted, and it completes in the same io_uring_enter, as
// recv(2) with MSG_DONTWAIT returns: a count, 0, or -EAGAIN if the
// socket had nothing. What a loop that stops reads with.
func (r *Uring) PrepRecvNow(fd int) {
	e := r.next(OpRecv, fd)
	e.flags = sqeBufferSelect
	e.opFlags = unix.MSG_DONTWAIT
	e.len = uint32(r.bufs.size)
	if strace.Out != nil {
		r.traceSubmit(e, recvNowArgs(fd, r.bufs.size))
	}
}

// PrepSend queues a send of p on fd (IORING_OP_SEND, with MSG_NOSIGNAL): it
// completes with how much the socket took, as send(2) returns, once it
// took some; a full socket buffer makes it wait, not fail. The kernel
// reads p until the completion: the caller keeps p unchanged, and
// referenced from Go (the garbage collector does not see the SQE's
// pointer), until then.
func (r *Uring) PrepSend(fd int, p []byte) {
	e := r.next(OpSend, fd)
	e.addr = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p))))
	e.len = uint32(len(p))
	e.opFlags = unix.MSG_NOSIGNAL
	if strace.Out != nil {
		r.traceSubmit(e, sendOpArgs(strace.Out, fd, p))
	}
}

// PrepRead queues a read of up to len(p) bytes of fd into p (IORING_OP_READ,
// at the file's position, as read(2) for a pipe), with the same rule for
// p as PrepSend.
func (r *Uring) PrepRead(fd int, p []byte) {
	e := r.next(OpRead, fd)
	e.addr = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p))))
	e.len = uint32(len(p))
	e.off = ^uint64(0) // -1: the file's position
	if strace.Out != nil {
		r.traceSubmit(e, readArgs(fd, len(p)))
	}
}

// PrepCancel queues the cancellation of every operation in flight on fd
// (IORING_OP_ASYNC_CANCEL with IORING_ASYNC_CANCEL_FD|ALL, 5.19). They
// complete with -ECANCELED, or as they would have if they were already
// done, and the cancel with how many it found. A descriptor must not be
// closed while operations on it are in flight: the kernel holds its
// file, and its number, given by close to the next accept, would meet
// their completions.
func (r *Uring) PrepCancel(fd int) {
	e := r.next(OpAsyncCancel, fd)
	e.opFlags = cancelFd | cancelAll
	if strace.Out != nil {
		r.traceSubmit(e, cancelArgs(fd, e.opFlags))
	}
}

// PrepCancelAll queues the cancellation of every operation in flight
// (IORING_ASYNC_CANCEL_ANY|ALL): what a loop does as it stops.
func (r *Uring) PrepCancelAll() {
	e := r.next(OpAsyncCancel, -1)
	e.opFlags = cancelAny | cancelAll
	if strace.Out != nil {
		r.traceSubmit(e, cancelArgs(-1, e.opFlags))
	}
}

// WaitRaw makes the waits of Enter raw system calls, which keep the
// thread's P while they wait, as the event loops' epoll_wait does, if a P
// can be spared (rawwait). Close gives it back.
func (r *Uring) WaitRaw() bool {
	if !r.raw {
		r.raw = rawwait.Reserve()
	}
	return r.raw
}

// InFlight is how many operations are in flight: queued, and not
// completed for good (a multishot accept counts until its last CQE).
func (r *Uring) InFlight() int { return r.inflight }

// Enter submits the SQEs queued since the last call and, with wait,
// waits in the same call until at least one CQE is there or timeout
// milliseconds have passed (-1: no limit): io_uring_enter(2) with
// IORING_ENTER_GETEVENTS. Without wait it returns at once, with the CQEs
// already done. A signal's EINTR makes it wait again, for what is left of
// the timeout. EBUSY and EAGAIN (the kernel wants the CQEs read first, or
// memory for requests) and ETIME return no error and do not wait: the
// caller Reaps and comes back, and what was not submitted is submitted
// then. If a submit in the middle of the batch failed (next), Enter
// returns that error and makes no call: the ring is not to be trusted
// with more, and the caller stops.
func (r *Uring) Enter(wait bool, timeout int) error {
	if err := r.err; err != nil {
		r.err = nil
		return err
	}
	r.publish()
	var deadline time.Time
	if wait && timeout >= 0 {
		deadline = time.Now().Add(time.Duration(timeout) * time.Millisecond)
	}
	minComplete := uint32(0)
	if wait {
		minComplete = 1
	}
	for {
		_, err := r.enter(enterGetEvents, minComplete, deadline)
		switch err {
		case unix.EINTR:
			continue
		case unix.ETIME, unix.EBUSY, unix.EAGAIN:
			return nil
		}
		return wrap("io_uring_enter", err)
	}
}

// submitTries bounds submit's retries of EBUSY and EAGAIN.
const submitTries = 4

// submit submits the queued SQEs without waiting for anything. EBUSY and
// EAGAIN (the CQ is full and the kernel holds completions it cannot
// post, or it has no memory for requests just now) are retried, a few
// times: each time the CQEs there are are moved out of the CQ (stash),
// which makes room, and the retry also asks the kernel to post what it
// holds (IORING_ENTER_GETEVENTS, waiting for none).
func (r *Uring) submit() error {
	flags := uint32(0)
	for tries := 0; ; {
		r.publish()
		_, err := r.enter(flags, 0, time.Time{})
		switch {
		case err == unix.EINTR:
			continue
		case (err == unix.EBUSY || err == unix.EAGAIN) && tries < submitTries:
			tries++
			r.stash()
			flags = enterGetEvents
			continue
		}
		return wrap("io_uring_enter", err)
	}
}

// stash moves the CQEs there are out of the CQ, for Reap to return
// before any other; the next publish gives their room back to the
// kernel.
func (r *Uring) stash() {
	for tail := atomic.LoadUint32(r.cqTail); r.head != tail; r.head++ {
		r.stashed = append(r.stashed, r.cqes[r.head&r.cqMask])
	}
	r.seen = r.head
}

// CheckEnter makes one io_uring_enter that submits nothing and waits for
// nothing, to know that the system lets this process make the call a
// loop lives on: a seccomp filter can forbid it and let io_uring_setup
// through. Where the system forbids it, the error is a
// *UringRefusedError.
func (r *Uring) CheckEnter() error {
	if _, err := r.enter(0, 0, time.Time{}); err != nil {
		return callRefused(wrap("io_uring_enter", err))
	}
	return nil
}

// enter is one io_uring_enter: to_submit is every SQE published and not
// yet read by the kernel. With a deadline, the timeout goes in a struct
// io_uring_getevents_arg (IORING_ENTER_EXT_ARG, 5.11). It returns how
// many SQEs the kernel took.
func (r *Uring) enter(flags, minComplete uint32, deadline time.Time) (int, error) {
	toSubmit := r.tail - atomic.LoadUint32(r.sqHead)
	var arg unsafe.Pointer
	argSize := uintptr(0)
	if !deadline.IsZero() {
		left := max(time.Until(deadline), 0)
		r.ts = kernelTimespec{sec: int64(left / time.Second), nsec: int64(left % time.Second)}
		r.arg = getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.ts)))}
		arg, argSize, flags = unsafe.Pointer(&r.arg), sizeofGetEventArg, flags|enterExtArg
	}
	// Raw, without telling Go's scheduler (rawwait), when it cannot block
	// or WaitRaw said so.
	// After a raw wait the runtime interrupted (EINTR), the next is the
	// scheduler's, so that an idle loop sleeps (rawwait).
	syscall6 := unix.Syscall6
	raw := minComplete == 0 || (r.raw && !r.idle)
	if raw {
		syscall6 = unix.RawSyscall6
	}
	var n uintptr
	var errno unix.Errno
	if fake, ok := uringEnterFault(); ok {
		errno = fake
	} else {
		n, _, errno = syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(minComplete), uintptr(flags), uintptr(arg), argSize)
	}
	if minComplete != 0 {
		r.idle = raw && errno == unix.EINTR
	}
	err := errnoErr(errno)
	if t := strace.Out; t != nil {
		traceEnter(t, t.Tid(), r.fd, toSubmit, minComplete, flags, arg, argSize, int(n), err)
	}
	return int(n), err
}

// uringEnterFault says whether to skip an io_uring_enter and return
// errno instead (0: the kernel took no SQE): a test replaces it to make
// the kernel fail as it seldom does on demand (EBUSY).
var uringEnterFault = func() (unix.Errno, bool) { return 0, false }

// publish tells the kernel what the program has done since: the SQEs
// written (the SQ tail), the CQEs read (the CQ head, which makes room),
// the buffers given back (the buffer ring's tail). Each is an atomic
// store, the release that makes what was written before it visible to
// the kernel, which reads it with smp_load_acquire.
func (r *Uring) publish() {
	atomic.StoreUint32(r.sqTail, r.tail)
	atomic.StoreUint32(r.cqHead, r.head)
	r.bufs.publish()
}

// Reap returns the next CQE, if there is one, and counts a completed
// operation out of flight. It reads the CQ's tail (an atomic load, the
// acquire that pairs with the kernel's release) only when it has read
// every CQE it saw before.
func (r *Uring) Reap() (Completion, bool) {
	var e cqe
	if r.stashAt < len(r.stashed) { // those stash took out of the CQ first
		e = r.stashed[r.stashAt]
		if r.stashAt++; r.stashAt == len(r.stashed) {
			r.stashed, r.stashAt = r.stashed[:0], 0
		}
	} else {
		if r.head == r.seen {
			if r.seen = atomic.LoadUint32(r.cqTail); r.head == r.seen {
				return Completion{}, false
			}
		}
		e = r.cqes[r.head&r.cqMask]
		r.head++
	}
	c := Completion{Op: uint8(e.userData >> 56), Fd: int(int32(uint32(e.userData))), Res: e.res, Flags: e.flags}
	if !c.More() {
		r.inflight--
	}
	if strace.Out != nil {
		r.traceCompletion(c)
	}
	return c, true
}
