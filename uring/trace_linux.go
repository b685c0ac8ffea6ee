package uring

import (
	"fmt"
	"strings"
	"unsafe"

	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// The -trace lines of the uring mode. strace shows the system calls:
// io_uring_setup, mmap, io_uring_register and io_uring_enter, as below
// (an io_uring_enter line is the same as strace's). It cannot show the
// operations, which go through memory; -trace shows each of them twice,
// in strace's notation for a call that blocks in one thread:
//
//	IORING_OP_RECV(fd=9, len=4096, IOSQE_BUFFER_SELECT, buf_group=0) <unfinished ...>
//	io_uring_enter(8, 1, 1, IORING_ENTER_GETEVENTS|IORING_ENTER_EXT_ARG, 0xc000182058, 24) = 1
//	IORING_OP_RECV(fd=9, len=4096, IOSQE_BUFFER_SELECT, buf_group=0) = 7 (buf_id=0, "5\n3\r\nx\n")
//
// when it is queued as an SQE, and when its CQE is read, with its result.

var (
	setupFlagNames = []strace.Flag{{V: setupCQSize, Name: "IORING_SETUP_CQSIZE"}, {V: setupClamp, Name: "IORING_SETUP_CLAMP"}, {V: setupSubmitAll, Name: "IORING_SETUP_SUBMIT_ALL"},
		{V: setupCoopTaskrun, Name: "IORING_SETUP_COOP_TASKRUN"}, {V: setupSingleIssuer, Name: "IORING_SETUP_SINGLE_ISSUER"}, {V: setupDeferTaskrun, Name: "IORING_SETUP_DEFER_TASKRUN"}}
	featureNames = []strace.Flag{{V: 1 << 0, Name: "IORING_FEAT_SINGLE_MMAP"}, {V: 1 << 1, Name: "IORING_FEAT_NODROP"}, {V: 1 << 2, Name: "IORING_FEAT_SUBMIT_STABLE"},
		{V: 1 << 3, Name: "IORING_FEAT_RW_CUR_POS"}, {V: 1 << 4, Name: "IORING_FEAT_CUR_PERSONALITY"}, {V: 1 << 5, Name: "IORING_FEAT_FAST_POLL"},
		{V: 1 << 6, Name: "IORING_FEAT_POLL_32BITS"}, {V: 1 << 7, Name: "IORING_FEAT_SQPOLL_NONFIXED"}, {V: 1 << 8, Name: "IORING_FEAT_EXT_ARG"},
		{V: 1 << 9, Name: "IORING_FEAT_NATIVE_WORKERS"}, {V: 1 << 10, Name: "IORING_FEAT_RSRC_TAGS"}, {V: 1 << 11, Name: "IORING_FEAT_CQE_SKIP"},
		{V: 1 << 12, Name: "IORING_FEAT_LINKED_FILE"}}
	enterFlagNames  = []strace.Flag{{V: enterGetEvents, Name: "IORING_ENTER_GETEVENTS"}, {V: enterExtArg, Name: "IORING_ENTER_EXT_ARG"}}
	cancelFlagNames = []strace.Flag{{V: cancelAll, Name: "IORING_ASYNC_CANCEL_ALL"}, {V: cancelFd, Name: "IORING_ASYNC_CANCEL_FD"}, {V: cancelAny, Name: "IORING_ASYNC_CANCEL_ANY"}}
	mmapFlagNames   = []strace.Flag{{V: unix.MAP_SHARED, Name: "MAP_SHARED"}, {V: unix.MAP_PRIVATE, Name: "MAP_PRIVATE"}, {V: unix.MAP_ANONYMOUS, Name: "MAP_ANONYMOUS"}, {V: unix.MAP_POPULATE, Name: "MAP_POPULATE"}}
)

// traceSetup traces io_uring_setup: the parameters asked for, and those
// the kernel wrote back if it made the ring.
func traceSetup(t *strace.Tracer, tid int, entries uint32, p *setupParams, fd int, err error) {
	in := fmt.Sprintf("flags=%s, sq_thread_cpu=%d, sq_thread_idle=%d", strace.Flags(int(p.flags), setupFlagNames), p.sqThreadCPU, p.sqThreadIdle)
	if err != nil {
		t.Call(tid, "io_uring_setup", fd, err, fmt.Sprintf("%d, {%s, cq_entries=%d}", entries, in, p.cqEntries))
		return
	}
	s, c := &p.sqOff, &p.cqOff
	t.Call(tid, "io_uring_setup", fd, nil, fmt.Sprintf("%d, {%s, sq_entries=%d, cq_entries=%d, features=%s, "+
		"sq_off={head=%d, tail=%d, ring_mask=%d, ring_entries=%d, flags=%d, dropped=%d, array=%d}, "+
		"cq_off={head=%d, tail=%d, ring_mask=%d, ring_entries=%d, overflow=%d, cqes=%d, flags=%d}}",
		entries, in, p.sqEntries, p.cqEntries, strace.Flags(int(p.features), featureNames),
		s.head, s.tail, s.ringMask, s.ringEntries, s.flags, s.dropped, s.array,
		c.head, c.tail, c.ringMask, c.ringEntries, c.overflow, c.cqes, c.flags))
}

// traceMmap traces mmap: the address it returned, or the error.
func traceMmap(t *strace.Tracer, tid, length, flags, fd int, offset int64, m []byte, err error) {
	off := "0"
	if offset != 0 {
		off = fmt.Sprintf("%#x", offset)
	}
	args := fmt.Sprintf("NULL, %d, PROT_READ|PROT_WRITE, %s, %d, %s", length, strace.Flags(flags, mmapFlagNames), fd, off)
	res := strace.Result(-1, err)
	if err == nil {
		res = fmt.Sprintf("%p", unsafe.SliceData(m))
	}
	t.CallResult(tid, "mmap", args, res)
}

// traceMunmap traces munmap.
func traceMunmap(t *strace.Tracer, tid int, m []byte, err error) {
	t.Call(tid, "munmap", 0, err, fmt.Sprintf("%p, %d", unsafe.SliceData(m), len(m)))
}

// traceRegister traces io_uring_register: the opcode and its argument.
func traceRegister(t *strace.Tracer, tid, fd int, opcode, arg string, nargs int, err error) {
	t.Call(tid, "io_uring_register", 0, err, fmt.Sprintf("%d, %s, %s, %d", fd, opcode, arg, nargs))
}

// bufRegString is struct io_uring_buf_reg as strace writes it.
func bufRegString(reg *bufReg) string {
	return fmt.Sprintf("{ring_addr=%#x, ring_entries=%d, bgid=%d}", reg.ringAddr, reg.ringEntries, reg.bgid)
}

// traceEnter traces io_uring_enter as strace does: the descriptor,
// to_submit, min_complete, the flags, then the signal mask and its size,
// or with IORING_ENTER_EXT_ARG the address and size of the
// io_uring_getevents_arg. The result is how many SQEs were submitted.
func traceEnter(t *strace.Tracer, tid, fd int, toSubmit, minComplete, flags uint32, arg unsafe.Pointer, argSize uintptr, n int, err error) {
	fl := "0"
	if flags != 0 {
		fl = strace.Flags(int(flags), enterFlagNames)
	}
	a := "NULL"
	if arg != nil {
		a = fmt.Sprintf("%p", arg)
	}
	t.Call(tid, "io_uring_enter", n, err, fmt.Sprintf("%d, %d, %d, %s, %s, %d", fd, toSubmit, minComplete, fl, a, argSize))
}

// The arguments of each operation, as its lines show them.

func acceptArgs(fd int) string {
	return fmt.Sprintf("fd=%d, flags=%s, IORING_ACCEPT_MULTISHOT", fd, strace.SockFlags(unix.SOCK_CLOEXEC))
}

func recvArgs(fd, size int) string {
	return fmt.Sprintf("fd=%d, len=%d, IOSQE_BUFFER_SELECT, buf_group=0", fd, size)
}

func recvNowArgs(fd, size int) string {
	return fmt.Sprintf("fd=%d, len=%d, flags=MSG_DONTWAIT, IOSQE_BUFFER_SELECT, buf_group=0", fd, size)
}

func sendOpArgs(t *strace.Tracer, fd int, p []byte) string {
	return fmt.Sprintf("fd=%d, %s, len=%d, flags=MSG_NOSIGNAL", fd, t.Quote(p), len(p))
}

func readArgs(fd, size int) string { return fmt.Sprintf("fd=%d, len=%d", fd, size) }

func cancelArgs(fd int, flags uint32) string {
	f := "flags=" + strace.Flags(int(flags), cancelFlagNames)
	if fd < 0 {
		return f
	}
	return fmt.Sprintf("fd=%d, %s", fd, f)
}

// traceSubmit traces an operation as it is queued, and keeps its
// arguments for the line of its completion.
func (r *Ring) traceSubmit(e *sqe, args string) {
	r.traceArgs[e.userData] = args
	t := strace.Out
	t.Unfinished(t.Tid(), opNames[e.opcode]+"("+args+") <unfinished ...>")
}

// traceCompletion traces a completion: the operation as it was queued,
// its result, and what came with it (the bytes received, "more to
// come").
func (r *Ring) traceCompletion(c Completion) {
	key := userData(c.Op, c.Fd)
	args := r.traceArgs[key]
	if !c.More() {
		delete(r.traceArgs, key)
	}
	res := strace.Result(int(c.Res), nil)
	if c.Res < 0 {
		res = strace.Result(-1, c.Errno())
	}
	var extra []string
	if p, ok := r.Buffer(c); ok {
		extra = append(extra, fmt.Sprintf("buf_id=%d, %s", c.Flags>>cqeBufferShift, strace.Out.Quote(p)))
	}
	if c.More() {
		extra = append(extra, "IORING_CQE_F_MORE")
	}
	if len(extra) > 0 {
		res += " (" + strings.Join(extra, ", ") + ")"
	}
	t := strace.Out
	t.CallResult(t.Tid(), opNames[c.Op], args, res)
}
