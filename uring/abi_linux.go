package uring

// The ABI, from <linux/io_uring.h> (x/sys has only the system call
// numbers): the constants, and the structures the kernel reads and
// writes.

const (
	// io_uring_setup flags
	setupCQSize        = 1 << 3  // cq_entries is given (5.5)
	setupClamp         = 1 << 4  // clamp the sizes to the kernel's limits (5.6)
	setupSubmitAll     = 1 << 7  // submit the rest when one SQE fails (5.18)
	setupCoopTaskrun   = 1 << 8  // no interrupt to run completion work (5.19)
	setupSingleIssuer  = 1 << 12 // one thread submits (6.0)
	setupDeferTaskrun  = 1 << 13 // completion work waits for io_uring_enter (6.1)
	featSingleMmap     = 1 << 0  // one mmap for both rings (5.4)
	featNoDrop         = 1 << 1  // a full CQ keeps CQEs rather than dropping them (5.5)
	featFastPoll       = 1 << 5  // network operations wait by poll, not in a thread (5.7)
	featExtArg         = 1 << 8  // io_uring_enter takes a timeout (5.11)
	offSQRing          = 0
	offCQRing          = 0x8000000
	offSQEs            = 0x10000000
	registerProbe      = 8
	registerPbufRing   = 22
	unregisterPbufRing = 23
	opSupported        = 1 << 0 // io_uring_probe_op.flags
)

// setupParams is struct io_uring_params: what io_uring_setup is asked for
// and what it says back, among it where each field of the rings lies in
// the mmap.
type setupParams struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFd         uint32
	resv         [3]uint32
	sqOff        sqringOffsets
	cqOff        cqringOffsets
}

// sqringOffsets is struct io_sqring_offsets: byte offsets in the SQ ring.
type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// cqringOffsets is struct io_cqring_offsets: byte offsets in the CQ ring.
type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// sqe is struct io_uring_sqe, 64 bytes: one request.
type sqe struct {
	opcode      uint8
	flags       uint8  // IOSQE_*
	ioprio      uint16 // for accept and recv: IORING_ACCEPT_MULTISHOT, IORING_RECVSEND_POLL_FIRST
	fd          int32
	off         uint64
	addr        uint64 // the buffer, as a number: the GC does not see it
	len         uint32
	opFlags     uint32 // msg_flags, accept_flags, cancel_flags, ...
	userData    uint64 // given back in the CQE
	bufGroup    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	pad         uint64
}

// cqe is struct io_uring_cqe, 16 bytes: one result.
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// getEventsArg is struct io_uring_getevents_arg, io_uring_enter's
// argument with IORING_ENTER_EXT_ARG: a signal mask (none) and a timeout.
type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	pad       uint32
	ts        uint64 // a struct __kernel_timespec *
}

// kernelTimespec is struct __kernel_timespec: 64-bit seconds and
// nanoseconds on every architecture (unix.Timespec is 32-bit on some).
type kernelTimespec struct {
	sec, nsec int64
}

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
