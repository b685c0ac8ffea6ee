package sock

import (
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The -trace lines of the uring mode. strace shows the system calls:
// io_uring_setup, mmap, io_uring_register and io_uring_enter, as below
// (an io_uring_enter line is the same as strace's). It cannot show the
// operations, which go through memory; -trace shows each of them twice,
// in strace's notation for a call that blocks in one thread:
//
//	IORING_OP_RECV(fd=9, len=8192, IOSQE_BUFFER_SELECT, buf_group=0) <unfinished ...>
//	io_uring_enter(8, 1, 1, IORING_ENTER_GETEVENTS|IORING_ENTER_EXT_ARG, 0xc000182058, 24) = 1
//	IORING_OP_RECV(fd=9, len=8192, IOSQE_BUFFER_SELECT, buf_group=0) = 7 (buf_id=0, "5\n3\r\nx\n")
//
// when it is queued as an SQE, and when its CQE is read, with its result.

var (
	setupFlagNames = []flagName{{setupCQSize, "IORING_SETUP_CQSIZE"}, {setupClamp, "IORING_SETUP_CLAMP"}, {setupSubmitAll, "IORING_SETUP_SUBMIT_ALL"},
		{setupCoopTaskrun, "IORING_SETUP_COOP_TASKRUN"}, {setupSingleIssuer, "IORING_SETUP_SINGLE_ISSUER"}, {setupDeferTaskrun, "IORING_SETUP_DEFER_TASKRUN"}}
	featureNames = []flagName{{1 << 0, "IORING_FEAT_SINGLE_MMAP"}, {1 << 1, "IORING_FEAT_NODROP"}, {1 << 2, "IORING_FEAT_SUBMIT_STABLE"},
		{1 << 3, "IORING_FEAT_RW_CUR_POS"}, {1 << 4, "IORING_FEAT_CUR_PERSONALITY"}, {1 << 5, "IORING_FEAT_FAST_POLL"},
		{1 << 6, "IORING_FEAT_POLL_32BITS"}, {1 << 7, "IORING_FEAT_SQPOLL_NONFIXED"}, {1 << 8, "IORING_FEAT_EXT_ARG"},
		{1 << 9, "IORING_FEAT_NATIVE_WORKERS"}, {1 << 10, "IORING_FEAT_RSRC_TAGS"}, {1 << 11, "IORING_FEAT_CQE_SKIP"},
		{1 << 12, "IORING_FEAT_LINKED_FILE"}}
	enterFlagNames  = []flagName{{enterGetEvents, "IORING_ENTER_GETEVENTS"}, {enterExtArg, "IORING_ENTER_EXT_ARG"}}
	cancelFlagNames = []flagName{{cancelAll, "IORING_ASYNC_CANCEL_ALL"}, {cancelFd, "IORING_ASYNC_CANCEL_FD"}, {cancelAny, "IORING_ASYNC_CANCEL_ANY"}}
	mmapFlagNames   = []flagName{{unix.MAP_SHARED, "MAP_SHARED"}, {unix.MAP_PRIVATE, "MAP_PRIVATE"}, {unix.MAP_ANONYMOUS, "MAP_ANONYMOUS"}, {unix.MAP_POPULATE, "MAP_POPULATE"}}
)

// uringSetup traces io_uring_setup: the parameters asked for, and those
// the kernel wrote back if it made the ring.
func (t *traceWriter) uringSetup(tid int, entries uint32, p *uringParams, fd int, err error) {
	in := fmt.Sprintf("flags=%s, sq_thread_cpu=%d, sq_thread_idle=%d", flagNames(int(p.flags), setupFlagNames), p.sqThreadCPU, p.sqThreadIdle)
	if err != nil {
		t.trace(tid, "io_uring_setup", fd, err, fmt.Sprintf("%d, {%s, cq_entries=%d}", entries, in, p.cqEntries))
		return
	}
	s, c := &p.sqOff, &p.cqOff
	t.trace(tid, "io_uring_setup", fd, nil, fmt.Sprintf("%d, {%s, sq_entries=%d, cq_entries=%d, features=%s, "+
		"sq_off={head=%d, tail=%d, ring_mask=%d, ring_entries=%d, flags=%d, dropped=%d, array=%d}, "+
		"cq_off={head=%d, tail=%d, ring_mask=%d, ring_entries=%d, overflow=%d, cqes=%d, flags=%d}}",
		entries, in, p.sqEntries, p.cqEntries, flagNames(int(p.features), featureNames),
		s.head, s.tail, s.ringMask, s.ringEntries, s.flags, s.dropped, s.array,
		c.head, c.tail, c.ringMask, c.ringEntries, c.overflow, c.cqes, c.flags))
}

// mmap traces mmap: the address it returned, or the error.
func (t *traceWriter) mmap(tid, length, flags, fd int, offset int64, m []byte, err error) {
	off := "0"
	if offset != 0 {
		off = fmt.Sprintf("%#x", offset)
	}
	args := fmt.Sprintf("NULL, %d, PROT_READ|PROT_WRITE, %s, %d, %s", length, flagNames(flags, mmapFlagNames), fd, off)
	res := result(-1, err)
	if err == nil {
		res = fmt.Sprintf("%p", unsafe.SliceData(m))
	}
	t.traceResult(tid, "mmap", args, res)
}

// munmap traces munmap.
func (t *traceWriter) munmap(tid int, m []byte, err error) {
	t.trace(tid, "munmap", 0, err, fmt.Sprintf("%p, %d", unsafe.SliceData(m), len(m)))
}

// uringRegister traces io_uring_register: the opcode and its argument.
func (t *traceWriter) uringRegister(tid, fd int, opcode, arg string, nargs int, err error) {
	t.trace(tid, "io_uring_register", 0, err, fmt.Sprintf("%d, %s, %s, %d", fd, opcode, arg, nargs))
}

// bufRegString is struct io_uring_buf_reg as strace writes it.
func bufRegString(reg *bufReg) string {
	return fmt.Sprintf("{ring_addr=%#x, ring_entries=%d, bgid=%d}", reg.ringAddr, reg.ringEntries, reg.bgid)
}

// uringEnter traces io_uring_enter as strace does: the descriptor,
// to_submit, min_complete, the flags, then the signal mask and its size,
// or with IORING_ENTER_EXT_ARG the address and size of the
// io_uring_getevents_arg. The result is how many SQEs were submitted.
func (t *traceWriter) uringEnter(tid, fd int, toSubmit, minComplete, flags uint32, arg unsafe.Pointer, argSize uintptr, n int, err error) {
	fl := "0"
	if flags != 0 {
		fl = flagNames(int(flags), enterFlagNames)
	}
	a := "NULL"
	if arg != nil {
		a = fmt.Sprintf("%p", arg)
	}
	t.trace(tid, "io_uring_enter", n, err, fmt.Sprintf("%d, %d, %d, %s, %s, %d", fd, toSubmit, minComplete, fl, a, argSize))
}

// The arguments of each operation, as its lines show them.

func acceptArgs(fd int) string {
	return fmt.Sprintf("fd=%d, flags=%s, IORING_ACCEPT_MULTISHOT", fd, flagNames(unix.SOCK_CLOEXEC, sockTypeFlags))
}

func recvArgs(fd, size int) string {
	return fmt.Sprintf("fd=%d, len=%d, IOSQE_BUFFER_SELECT, buf_group=0", fd, size)
}

func recvNowArgs(fd, size int) string {
	return fmt.Sprintf("fd=%d, len=%d, flags=MSG_DONTWAIT, IOSQE_BUFFER_SELECT, buf_group=0", fd, size)
}

func (t *traceWriter) uringSendArgs(fd int, p []byte) string {
	return fmt.Sprintf("fd=%d, %s, len=%d, flags=MSG_NOSIGNAL", fd, t.quote(p), len(p))
}

func readArgs(fd, size int) string { return fmt.Sprintf("fd=%d, len=%d", fd, size) }

func cancelArgs(fd int, flags uint32) string {
	f := "flags=" + flagNames(int(flags), cancelFlagNames)
	if fd < 0 {
		return f
	}
	return fmt.Sprintf("fd=%d, %s", fd, f)
}

// traceSubmit traces an operation as it is queued, and keeps its
// arguments for the line of its completion.
func (r *Uring) traceSubmit(e *sqe, args string) {
	r.traceArgs[e.userData] = args
	tracer.traceLine(tracer.tid(), opNames[e.opcode]+"("+args+") <unfinished ...>")
}

// traceCompletion traces a completion: the operation as it was queued,
// its result, and what came with it (the bytes received, "more to
// come").
func (r *Uring) traceCompletion(c Completion) {
	key := userData(c.Op, c.Fd)
	args := r.traceArgs[key]
	if !c.More() {
		delete(r.traceArgs, key)
	}
	res := result(int(c.Res), nil)
	if c.Res < 0 {
		res = result(-1, c.Errno())
	}
	var extra []string
	if p, ok := r.Buffer(c); ok {
		extra = append(extra, fmt.Sprintf("buf_id=%d, %s", c.Flags>>cqeBufferShift, tracer.quote(p)))
	}
	if c.More() {
		extra = append(extra, "IORING_CQE_F_MORE")
	}
	if len(extra) > 0 {
		res += " (" + strings.Join(extra, ", ") + ")"
	}
	tracer.traceResult(tracer.tid(), opNames[c.Op], args, res)
}

// traceLine prints a line with no result: a call that has not returned.
func (t *traceWriter) traceLine(tid int, line string) {
	if t.tids {
		line = fmt.Sprintf("[pid %5d] %s", tid, line)
	}
	t.mu.Lock()
	fmt.Fprintln(t.w, line)
	t.mu.Unlock()
}

// peername traces getsockopt(SO_PEERNAME) as strace does: the address's
// bytes, or the buffer's address if the call failed, and the length.
func (t *traceWriter) peername(tid, fd int, rsa *unix.RawSockaddrAny, size uint32, err error) {
	val := fmt.Sprintf("%p", rsa)
	if err == nil {
		val = t.quote(unsafe.Slice((*byte)(unsafe.Pointer(rsa)), size))
	}
	t.trace(tid, "getsockopt", 0, err, fmt.Sprintf("%d, SOL_SOCKET, SO_PEERNAME, %s, [%d]", fd, val, size))
}
