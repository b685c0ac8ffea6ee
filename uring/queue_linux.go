package uring

import (
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"fetchadd/rawwait"
	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// Submitting and reaping, as liburing's queue.c: an operation is queued
// as an SQE (the Prep methods, prep_linux.go), Enter submits the queued
// SQEs and waits for completions in one io_uring_enter, and Reap reads
// the CQEs.
//
// Each SQE's user data, given back in its CQE, is the operation and the
// descriptor: (opcode << 56) | fd. A completion so says by itself what
// it completes; the caller needs no table of requests, only the rule
// that it has at most one operation of a kind in flight on a descriptor.

// Completion is one CQE, read: which operation on which descriptor it
// completes, and how it went.
type Completion struct {
	Op    uint8  // the operation: OpRecv, OpSend, ...
	Fd    int    // the descriptor it was on (-1 for PrepCancelAll)
	Res   int32  // its result: a count, a new descriptor, or -errno
	Flags uint32 // IORING_CQE_F_*: see More and Ring.Buffer
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
	return os.NewSyscallError(opNames[c.Op], c.Errno())
}

// More says that a multishot operation goes on: more completions will
// come for the same SQE (IORING_CQE_F_MORE).
func (c Completion) More() bool { return c.Flags&cqeFMore != 0 }

// Unread says that a receive left more to read in its socket, bytes or
// the end of the stream (IORING_CQE_F_SOCK_NONEMPTY, where the kernel
// sets it: the 6.18 here does for TCP). False says nothing where the
// kernel does not set it.
func (c Completion) Unread() bool { return c.Flags&cqeFSockNonEmpty != 0 }

// WaitRaw makes the waits of Enter raw system calls, which keep the
// thread's P while they wait, as the event loops' epoll_wait does, if a P
// can be spared (rawwait). Close gives it back.
func (r *Ring) WaitRaw() bool {
	if !r.raw {
		r.raw = rawwait.Reserve()
	}
	return r.raw
}

// InFlight is how many operations are in flight: queued, and not
// completed for good (a multishot accept counts until its last CQE).
func (r *Ring) InFlight() int { return r.inflight }

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
func (r *Ring) Enter(wait bool, timeout int) error {
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
		return os.NewSyscallError("io_uring_enter", err)
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
func (r *Ring) submit() error {
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
		return os.NewSyscallError("io_uring_enter", err)
	}
}

// stash moves the CQEs there are out of the CQ, for Reap to return
// before any other; the next publish gives their room back to the
// kernel.
func (r *Ring) stash() {
	for tail := atomic.LoadUint32(r.cqTail); r.head != tail; r.head++ {
		r.stashed = append(r.stashed, r.cqes[r.head&r.cqMask])
	}
	r.seen = r.head
}

// CheckEnter makes one io_uring_enter that submits nothing and waits for
// nothing, to know that the system lets this process make the call a
// loop lives on: a seccomp filter can forbid it and let io_uring_setup
// through. Where the system forbids it, the error is a
// *RefusedError.
func (r *Ring) CheckEnter() error {
	if _, err := r.enter(0, 0, time.Time{}); err != nil {
		return callRefused(os.NewSyscallError("io_uring_enter", err))
	}
	return nil
}

// enter is one io_uring_enter: to_submit is every SQE published and not
// yet read by the kernel. With a deadline, the timeout goes in a struct
// io_uring_getevents_arg (IORING_ENTER_EXT_ARG, 5.11). It returns how
// many SQEs the kernel took.
func (r *Ring) enter(flags, minComplete uint32, deadline time.Time) (int, error) {
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
	if fake, ok := enterFault(); ok {
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

// enterFault says whether to skip an io_uring_enter and return
// errno instead (0: the kernel took no SQE): a test replaces it to make
// the kernel fail as it seldom does on demand (EBUSY).
var enterFault = func() (unix.Errno, bool) { return 0, false }

// publish tells the kernel what the program has done since: the SQEs
// written (the SQ tail), the CQEs read (the CQ head, which makes room),
// the buffers given back (the buffer ring's tail). Each is an atomic
// store, the release that makes what was written before it visible to
// the kernel, which reads it with smp_load_acquire.
func (r *Ring) publish() {
	atomic.StoreUint32(r.sqTail, r.tail)
	atomic.StoreUint32(r.cqHead, r.head)
	r.bufs.publish()
}

// Reap returns the next CQE, if there is one, and counts a completed
// operation out of flight. It reads the CQ's tail (an atomic load, the
// acquire that pairs with the kernel's release) only when it has read
// every CQE it saw before.
func (r *Ring) Reap() (Completion, bool) {
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
