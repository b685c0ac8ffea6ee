package sock

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"unsafe"

	"fetchadd/rawwait"
	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// io_uring (Linux 5.1 and later; what this package uses, 5.19) is a pair
// of queues shared by a program and the kernel through mmap:
//
//   - the submission queue (SQ): the program writes requests, SQEs ("read
//     fd 6 into a buffer"), and moves the SQ's tail;
//   - the completion queue (CQ): the kernel writes a result, a CQE, for
//     each request when it is done, and moves the CQ's tail.
//
// Three system calls: io_uring_setup makes the queues (and a descriptor
// for them), io_uring_register hands the ring things to keep (here, a
// ring of receive buffers), and io_uring_enter says "I have queued N
// SQEs" and "wait until M CQEs are there", in one call. So a server loop
// makes one system call per batch of work, however many reads and sends
// the batch holds. There is no liburing here: this file is the part of
// liburing a server needs, on x/sys's raw system calls.
//
// This file makes and releases the ring (NewUring, Close) and says why
// the kernel refuses one; uring_queue_linux.go queues operations and
// reads their completions; uring_bufring_linux.go keeps the buffer ring.

// The ABI, from <linux/io_uring.h> (x/sys has only the system call
// numbers).
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

// setupFlags are the io_uring_setup flags to try, best first. Linux 6.1
// takes the first: one thread submits (the loop's; see NewUring), and the
// kernel finishes completions (copies received bytes, posts CQEs) only
// when that thread asks for them in io_uring_enter, with no interrupt
// and no lock against other submitters. An older kernel says EINVAL, and
// the second, 5.19's, does the same work without those promises. A
// variable, so that a test can run the 5.19 way.
var setupFlags = []uint32{
	setupSingleIssuer | setupDeferTaskrun | setupSubmitAll | setupCQSize | setupClamp,
	setupCoopTaskrun | setupSubmitAll | setupCQSize | setupClamp,
}

// needFeatures are the features the server needs of the kernel, beyond
// what 5.19 has anyway: they are checked, not assumed.
var needFeatures = []strace.Flag{{V: featNoDrop, Name: "IORING_FEAT_NODROP"}, {V: featFastPoll, Name: "IORING_FEAT_FAST_POLL"}, {V: featExtArg, Name: "IORING_FEAT_EXT_ARG"}}

// uringParams is struct io_uring_params: what io_uring_setup is asked for
// and what it says back, among it where each field of the rings lies in
// the mmap.
type uringParams struct {
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

// Uring is one io_uring instance with its provided buffer ring. Like a
// Poller it is not safe for concurrent use: one loop owns it.
type Uring struct {
	fd       int
	flags    uint32 // the setup flags the kernel took
	features uint32
	params   uringParams // what io_uring_setup said

	// The submission queue: the kernel reads SQEs from sqHead to
	// sqTail; the next SQE is written at tail, and sqTail moves up to it
	// when Enter submits.
	sqHead, sqTail *uint32
	sqMask         uint32
	sqes           []sqe
	tail           uint32
	spare          sqe // written instead when the queue cannot be emptied (err)

	// The completion queue: the kernel writes CQEs at cqTail; the
	// program reads them from head, and cqHead moves up to it at Enter.
	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []cqe
	head, seen     uint32 // the next CQE to read; the tail last read
	stashed        []cqe  // CQEs taken out of the CQ to make room (stash), for Reap first
	stashAt        int    // the next of them to read

	bufs      bufRing
	raw       bool              // Enter's waits are raw system calls (WaitRaw)
	idle      bool              // the last raw wait was interrupted: the next is the scheduler's
	inflight  int               // operations submitted whose last CQE has not come
	err       error             // a failed submit of a full queue, for Enter to report
	arg       getEventsArg      // io_uring_enter's timeout argument, kept off the stack
	ts        kernelTimespec    // its timeout
	maps      [][]byte          // what to munmap
	traceArgs map[uint64]string // with -trace: each operation in flight, as written
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

// uringSetup is io_uring_setup(2); a test replaces it to make the kernel
// refuse as it does elsewhere.
var uringSetup = func(entries uint32, p *uringParams) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	return int(fd), errnoErr(errno)
}

// uringRegister is io_uring_register(2).
func uringRegister(fd int, opcode uint32, arg unsafe.Pointer, nargs uint32) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), uintptr(opcode), uintptr(arg), uintptr(nargs), 0, 0)
	return int(r), errnoErr(errno)
}

// NewUring makes an io_uring for a server loop: a submission queue of
// entries SQEs, a completion queue four times as long, and a ring of
// nbufs receive buffers of bufSize bytes each (buffer group 0; nbufs a
// power of two). Where the system will not run it, the error is a
// *UringRefusedError saying why.
//
// The calling goroutine must keep its thread (runtime.LockOSThread) until
// Close, and use the ring from it alone: on Linux 6.1 and later the ring
// is made for one submitting thread (IORING_SETUP_SINGLE_ISSUER), and the
// kernel refuses (EEXIST) io_uring_enter and io_uring_register from any
// other.
func NewUring(entries, nbufs, bufSize int) (*Uring, error) {
	r := &Uring{fd: -1}
	err := r.setup(uint32(entries))
	if err == nil {
		err = r.mapRings()
	}
	if err == nil {
		err = r.probe()
	}
	if err == nil {
		err = r.bufs.register(r, nbufs, bufSize)
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	if strace.Out != nil {
		r.traceArgs = make(map[uint64]string)
	}
	return r, nil
}

// setup is io_uring_setup(2), with the best flags the kernel takes.
func (r *Uring) setup(entries uint32) error {
	for i, flags := range setupFlags {
		p := uringParams{flags: flags, cqEntries: 4 * entries}
		fd, err := uringSetup(entries, &p)
		if t := strace.Out; t != nil {
			traceSetup(t, t.Tid(), entries, &p, fd, err)
		}
		if err == unix.EINVAL && i+1 < len(setupFlags) {
			continue // a kernel older than these flags: try the next
		}
		if err != nil {
			return setupRefused(wrap("io_uring_setup", err))
		}
		r.fd, r.flags, r.features = fd, p.flags, p.features
		for _, f := range needFeatures {
			if p.features&uint32(f.V) == 0 {
				return &UringRefusedError{Err: errors.New("io_uring_setup: " + f.Name + " missing"), Reason: "needs Linux 5.19 or later; this is " + kernelRelease()}
			}
		}
		r.params = p // where the rings' fields are, for mapRings
		r.sqMask, r.cqMask = p.sqEntries-1, p.cqEntries-1
		return nil
	}
	panic("no setup flags") // setupFlags is never empty
}

// mapRings maps the SQ ring, the CQ ring and the SQE array into memory,
// as liburing's io_uring_queue_mmap does: one mapping for both rings when
// the kernel offers it (IORING_FEAT_SINGLE_MMAP), else two.
func (r *Uring) mapRings() error {
	p := &r.params
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*int(unsafe.Sizeof(cqe{}))
	single := p.features&featSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	sq, err := r.mmap(r.fd, offSQRing, sqSize, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return err
	}
	cq := sq
	if !single {
		if cq, err = r.mmap(r.fd, offSQRing+offCQRing, cqSize, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
			return err
		}
	}
	sqesMem, err := r.mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})), unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return err
	}
	r.sqHead = word(sq, p.sqOff.head)
	r.sqTail = word(sq, p.sqOff.tail)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&sqesMem[0])), p.sqEntries)
	// The SQ array says which SQE each slot of the ring holds: slot i,
	// SQE i, for good, as liburing sets it up.
	array := unsafe.Slice(word(sq, p.sqOff.array), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.cqHead = word(cq, p.cqOff.head)
	r.cqTail = word(cq, p.cqOff.tail)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)
	r.tail = atomic.LoadUint32(r.sqTail)
	r.head = atomic.LoadUint32(r.cqHead)
	r.seen = r.head
	return nil
}

// word is the uint32 at byte off of a mapping.
func word(m []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&m[off])) }

// mmap is mmap(2) of length bytes of fd at offset (fd -1: anonymous
// memory), read and write, kept for Close to unmap.
func (r *Uring) mmap(fd int, offset int64, length, flags int) ([]byte, error) {
	if fd < 0 {
		flags |= unix.MAP_ANONYMOUS
	}
	m, err := unix.Mmap(fd, offset, length, unix.PROT_READ|unix.PROT_WRITE, flags)
	if t := strace.Out; t != nil {
		traceMmap(t, t.Tid(), length, flags, fd, offset, m, err)
	}
	if err != nil {
		return nil, wrap("mmap", err)
	}
	r.maps = append(r.maps, m)
	return m, nil
}

// uringOps are the operations the server needs, each checked by probe.
var uringOps = []uint8{OpRead, OpAccept, OpRecv, OpSend, OpAsyncCancel}

// probe asks the kernel which operations it has (IORING_REGISTER_PROBE,
// 5.6): each the server uses must be there.
func (r *Uring) probe() error {
	// struct io_uring_probe: last_op, ops_len, 14 bytes reserved, then
	// an io_uring_probe_op of 8 bytes per operation: op, 1 reserved,
	// flags (u16), 4 reserved.
	var buf [16 + 256*8]byte
	_, err := uringRegister(r.fd, registerProbe, unsafe.Pointer(&buf[0]), 256)
	if t := strace.Out; t != nil {
		traceRegister(t, t.Tid(), r.fd, "IORING_REGISTER_PROBE", fmt.Sprintf("{last_op=%d, ops_len=%d, ops=[...]}", buf[0], buf[1]), 256, err)
	}
	if err == unix.EINVAL {
		return &UringRefusedError{Err: wrap("io_uring_register", err), Reason: "IORING_REGISTER_PROBE needs Linux 5.6; this is " + kernelRelease()}
	}
	if err != nil {
		return callRefused(wrap("io_uring_register", err))
	}
	for _, op := range uringOps {
		flags := *(*uint16)(unsafe.Pointer(&buf[16+int(op)*8+2]))
		if op >= buf[1] || flags&opSupported == 0 {
			return &UringRefusedError{Err: errors.New("io_uring_register: IORING_REGISTER_PROBE: " + opNames[op] + " missing"), Reason: "needs Linux 5.19 or later; this is " + kernelRelease()}
		}
	}
	return nil
}

// Close releases the ring: the buffer ring is unregistered, the memory
// unmapped, the descriptor closed. Call it with nothing in flight
// (InFlight). If something is, the kernel cancels it as it closes the
// ring, but it could still write into the memory meanwhile: that memory
// stays mapped.
func (r *Uring) Close() error {
	r.bufs.unregister(r)
	if r.inflight > 0 {
		r.maps = nil
	}
	for _, m := range r.maps {
		err := unix.Munmap(m)
		if t := strace.Out; t != nil {
			traceMunmap(t, t.Tid(), m, err)
		}
	}
	r.maps = nil
	if r.raw {
		r.raw = false
		rawwait.Release()
	}
	if r.fd < 0 {
		return nil
	}
	err := Close(r.fd)
	r.fd = -1
	return err
}

// setupRefused turns io_uring_setup's error into a *UringRefusedError
// when it means the system refuses io_uring, with the reason it can find;
// other errors (out of memory, of descriptors) stay as they are.
func setupRefused(err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return &UringRefusedError{Err: err, Reason: whyNotPermitted()}
	case errors.Is(err, unix.ENOSYS):
		if seccomp() {
			return &UringRefusedError{Err: err, Reason: "a seccomp filter hides it: /proc/self/status says Seccomp: 2"}
		}
		return &UringRefusedError{Err: err, Reason: "this kernel has no io_uring: it was built without CONFIG_IO_URING"}
	case errors.Is(err, unix.EINVAL):
		return &UringRefusedError{Err: err, Reason: "needs Linux 5.19 or later; this is " + kernelRelease()}
	}
	return err
}

// callRefused turns the error of a call on a ring the kernel has made
// (io_uring_register, io_uring_enter) into a *UringRefusedError when the
// system forbids the call, as a seccomp filter can forbid one and not
// io_uring_setup, with the reason io_uring_setup's refusal would give;
// other errors stay as they are.
func callRefused(err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return &UringRefusedError{Err: err, Reason: whyNotPermitted()}
	case errors.Is(err, unix.ENOSYS) && seccomp():
		return &UringRefusedError{Err: err, Reason: "a seccomp filter hides it: /proc/self/status says Seccomp: 2"}
	}
	return err
}

// whyNotPermitted says why io_uring_setup was not permitted: the sysctl
// that switches io_uring off (6.6), a seccomp filter, or else some other
// security policy.
func whyNotPermitted() string {
	disabled := readSysFile("/proc/sys/kernel/io_uring_disabled")
	switch disabled {
	case "2":
		return "/proc/sys/kernel/io_uring_disabled is 2"
	case "1":
		return "/proc/sys/kernel/io_uring_disabled is 1 and this user is not in the group of /proc/sys/kernel/io_uring_group, " + readSysFile("/proc/sys/kernel/io_uring_group")
	}
	if seccomp() {
		return "a seccomp filter forbids it: /proc/self/status says Seccomp: 2"
	}
	return "a security policy forbids it"
}

// seccomp says whether a seccomp filter is on this process.
func seccomp() bool {
	for _, line := range strings.Split(readSysFile("/proc/self/status"), "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
			return strings.TrimSpace(v) == "2"
		}
	}
	return false
}

// readSysFile is a /proc file's contents without the last newline, or ""
// if it cannot be read. A variable: tests pretend other systems.
var readSysFile = func(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// kernelRelease is uname -r.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "an unknown kernel"
	}
	return "Linux " + unix.ByteSliceToString(u.Release[:])
}
