package uring

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"fetchadd/rawwait"
	"fetchadd/sock"
	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// Making and releasing a ring (liburing's setup.c and syscall.c):
// io_uring_setup with the best flags the kernel takes, the three mmaps,
// the probe of the operations, then Close.

// setupFlags are the io_uring_setup flags to try, best first. Linux 6.1
// takes the first: one thread submits (the loop's; see New), and the
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

// Ring is one io_uring instance with its provided buffer ring. Like a
// Poller it is not safe for concurrent use: one loop owns it.
type Ring struct {
	fd       int
	flags    uint32 // the setup flags the kernel took
	features uint32
	params   setupParams // what io_uring_setup said

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

// ioUringSetup is io_uring_setup(2); a test replaces it to make the kernel
// refuse as it does elsewhere.
var ioUringSetup = func(entries uint32, p *setupParams) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	return int(fd), errnoErr(errno)
}

// errnoErr is a raw system call's errno as an error: nil for 0.
func errnoErr(errno unix.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}

// ioUringRegister is io_uring_register(2).
func ioUringRegister(fd int, opcode uint32, arg unsafe.Pointer, nargs uint32) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), uintptr(opcode), uintptr(arg), uintptr(nargs), 0, 0)
	return int(r), errnoErr(errno)
}

// New makes an io_uring for a server loop: a submission queue of
// entries SQEs, a completion queue four times as long, and a ring of
// nbufs receive buffers of bufSize bytes each (buffer group 0; nbufs a
// power of two). Where the system will not run it, the error is a
// *RefusedError saying why.
//
// The calling goroutine must keep its thread (runtime.LockOSThread) until
// Close, and use the ring from it alone: on Linux 6.1 and later the ring
// is made for one submitting thread (IORING_SETUP_SINGLE_ISSUER), and the
// kernel refuses (EEXIST) io_uring_enter and io_uring_register from any
// other.
func New(entries, nbufs, bufSize int) (*Ring, error) {
	r := &Ring{fd: -1}
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
func (r *Ring) setup(entries uint32) error {
	for i, flags := range setupFlags {
		p := setupParams{flags: flags, cqEntries: 4 * entries}
		fd, err := ioUringSetup(entries, &p)
		if t := strace.Out; t != nil {
			traceSetup(t, t.Tid(), entries, &p, fd, err)
		}
		if err == unix.EINVAL && i+1 < len(setupFlags) {
			continue // a kernel older than these flags: try the next
		}
		if err != nil {
			return setupRefused(os.NewSyscallError("io_uring_setup", err))
		}
		r.fd, r.flags, r.features = fd, p.flags, p.features
		for _, f := range needFeatures {
			if p.features&uint32(f.V) == 0 {
				return &RefusedError{Err: errors.New("io_uring_setup: " + f.Name + " missing"), Reason: "needs Linux 5.19 or later; this is " + kernelRelease()}
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
func (r *Ring) mapRings() error {
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
func (r *Ring) mmap(fd int, offset int64, length, flags int) ([]byte, error) {
	if fd < 0 {
		flags |= unix.MAP_ANONYMOUS
	}
	m, err := unix.Mmap(fd, offset, length, unix.PROT_READ|unix.PROT_WRITE, flags)
	if t := strace.Out; t != nil {
		traceMmap(t, t.Tid(), length, flags, fd, offset, m, err)
	}
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	r.maps = append(r.maps, m)
	return m, nil
}

// neededOps are the operations the server needs, each checked by probe.
var neededOps = []uint8{OpRead, OpAccept, OpRecv, OpSend, OpAsyncCancel}

// probe asks the kernel which operations it has (IORING_REGISTER_PROBE,
// 5.6): each the server uses must be there.
func (r *Ring) probe() error {
	// struct io_uring_probe: last_op, ops_len, 14 bytes reserved, then
	// an io_uring_probe_op of 8 bytes per operation: op, 1 reserved,
	// flags (u16), 4 reserved.
	var buf [16 + 256*8]byte
	_, err := ioUringRegister(r.fd, registerProbe, unsafe.Pointer(&buf[0]), 256)
	if t := strace.Out; t != nil {
		traceRegister(t, t.Tid(), r.fd, "IORING_REGISTER_PROBE", fmt.Sprintf("{last_op=%d, ops_len=%d, ops=[...]}", buf[0], buf[1]), 256, err)
	}
	if err == unix.EINVAL {
		return &RefusedError{Err: os.NewSyscallError("io_uring_register", err), Reason: "IORING_REGISTER_PROBE needs Linux 5.6; this is " + kernelRelease()}
	}
	if err != nil {
		return callRefused(os.NewSyscallError("io_uring_register", err))
	}
	for _, op := range neededOps {
		flags := *(*uint16)(unsafe.Pointer(&buf[16+int(op)*8+2]))
		if op >= buf[1] || flags&opSupported == 0 {
			return &RefusedError{Err: errors.New("io_uring_register: IORING_REGISTER_PROBE: " + opNames[op] + " missing"), Reason: "needs Linux 5.19 or later; this is " + kernelRelease()}
		}
	}
	return nil
}

// Close releases the ring: the buffer ring is unregistered, the memory
// unmapped, the descriptor closed. Call it with nothing in flight
// (InFlight). If something is, the kernel cancels it as it closes the
// ring, but it could still write into the memory meanwhile: that memory
// stays mapped.
func (r *Ring) Close() error {
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
	err := sock.Close(r.fd)
	r.fd = -1
	return err
}
