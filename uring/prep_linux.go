package uring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// Queueing an operation, as liburing's io_uring_prep_* do: each Prep
// method writes one SQE (next) and returns; Enter submits what was
// queued.

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
func (r *Ring) next(op uint8, fd int) *sqe {
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
func (r *Ring) PrepAccept(fd int) {
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
func (r *Ring) PrepRecv(fd int) {
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
func (r *Ring) PrepRecvNow(fd int) {
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
func (r *Ring) PrepSend(fd int, p []byte) {
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
func (r *Ring) PrepRead(fd int, p []byte) {
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
func (r *Ring) PrepCancel(fd int) {
	e := r.next(OpAsyncCancel, fd)
	e.opFlags = cancelFd | cancelAll
	if strace.Out != nil {
		r.traceSubmit(e, cancelArgs(fd, e.opFlags))
	}
}

// PrepCancelAll queues the cancellation of every operation in flight
// (IORING_ASYNC_CANCEL_ANY|ALL): what a loop does as it stops.
func (r *Ring) PrepCancelAll() {
	e := r.next(OpAsyncCancel, -1)
	e.opFlags = cancelAny | cancelAll
	if strace.Out != nil {
		r.traceSubmit(e, cancelArgs(-1, e.opFlags))
	}
}
