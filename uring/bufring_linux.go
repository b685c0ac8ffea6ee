package uring

import (
	"os"
	"sync/atomic"
	"unsafe"

	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// bufRing is a provided buffer ring (IORING_REGISTER_PBUF_RING, 5.19): a
// ring of struct io_uring_buf {addr, len, bid} in memory shared with the
// kernel. The program adds free buffers at the tail; a receive with
// IOSQE_BUFFER_SELECT takes one from the head when its bytes come, and
// its CQE says which (IORING_CQE_F_BUFFER, the id in flags >> 16). The
// program gives a buffer back once it has read it.
//
// So memory for receiving is the ring's, not the connections': a
// thousand idle connections, each with a receive in flight, hold no
// buffer until bytes come.
type bufRing struct {
	ring       []ringBuf // the ring, shared with the kernel
	mem        []byte    // the buffers, size bytes each, buffer id i at i*size
	size       int
	mask       uint16
	tail       uint16 // where the next free buffer goes
	published  uint16 // the tail the kernel has been told
	registered bool
}

// ringBuf is struct io_uring_buf, one entry of the ring.
type ringBuf struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16 // in the first entry: the ring's tail
}

// bufReg is struct io_uring_buf_reg, io_uring_register's argument.
type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	pad         uint16
	resv        [3]uint64
}

// register maps n buffers of size bytes and a ring of n entries (n a
// power of two), both anonymous memory outside Go's heap, puts every
// buffer in the ring, and registers the ring as buffer group 0. A kernel
// before 5.19 says EINVAL.
func (b *bufRing) register(r *Ring, n, size int) error {
	ringMem, err := r.mmap(-1, 0, max(n*int(unsafe.Sizeof(ringBuf{})), unix.Getpagesize()), unix.MAP_PRIVATE)
	if err != nil {
		return err
	}
	if b.mem, err = r.mmap(-1, 0, n*size, unix.MAP_PRIVATE); err != nil {
		return err
	}
	b.ring = unsafe.Slice((*ringBuf)(unsafe.Pointer(&ringMem[0])), n)
	b.size, b.mask = size, uint16(n-1)
	for id := 0; id < n; id++ {
		b.add(id)
	}
	reg := bufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&ringMem[0]))), ringEntries: uint32(n)}
	_, err = ioUringRegister(r.fd, registerPbufRing, unsafe.Pointer(&reg), 1)
	if t := strace.Out; t != nil {
		traceRegister(t, t.Tid(), r.fd, "IORING_REGISTER_PBUF_RING", bufRegString(&reg), 1, err)
	}
	switch {
	case err == unix.EINVAL:
		return &RefusedError{Err: os.NewSyscallError("io_uring_register", err), Reason: "IORING_REGISTER_PBUF_RING needs Linux 5.19; this is " + kernelRelease()}
	case err != nil:
		return callRefused(os.NewSyscallError("io_uring_register", err))
	}
	b.registered = true
	b.publish()
	return nil
}

// unregister takes the ring back from the kernel
// (IORING_UNREGISTER_PBUF_RING), before its memory is unmapped.
func (b *bufRing) unregister(r *Ring) {
	if !b.registered {
		return
	}
	var reg bufReg
	_, err := ioUringRegister(r.fd, unregisterPbufRing, unsafe.Pointer(&reg), 1)
	if t := strace.Out; t != nil {
		traceRegister(t, t.Tid(), r.fd, "IORING_UNREGISTER_PBUF_RING", "{ring_addr=0, ring_entries=0, bgid=0}", 1, err)
	}
	b.registered = false
}

// add puts buffer id at the ring's tail, for the kernel once published
// (io_uring_buf_ring_add). It writes the entry's addr, len and bid, never
// its resv: in the first entry that is the tail.
func (b *bufRing) add(id int) {
	e := &b.ring[b.tail&b.mask]
	e.addr = uint64(uintptr(unsafe.Pointer(&b.mem[id*b.size])))
	e.len = uint32(b.size)
	e.bid = uint16(id)
	b.tail++
}

// publish tells the kernel of the buffers added since the last time
// (io_uring_buf_ring_advance). The tail is the u16 at byte 14 of the ring,
// in the first entry's resv, which the kernel reads with
// smp_load_acquire. Go's atomics have no 16-bit store, so the tail goes
// out in a 32-bit atomic store of bytes 12 to 15, the first entry's bid
// (written by this program as well, and kept as it is) and the tail.
func (b *bufRing) publish() {
	if b.tail == b.published || b.ring == nil {
		return
	}
	p := (*uint32)(unsafe.Pointer(&b.ring[0].bid))
	w := atomic.LoadUint32(p)
	(*[2]uint16)(unsafe.Pointer(&w))[1] = b.tail // bytes 14 and 15, in memory order
	atomic.StoreUint32(p, w)
	b.published = b.tail
}

// Buffer returns the bytes a receive's completion brought, in the
// buffer the kernel took for them, and whether it took one
// (IORING_CQE_F_BUFFER; a receive that found no data, or failed, took
// none). The bytes are the ring's until ReturnBuffer.
func (r *Ring) Buffer(c Completion) ([]byte, bool) {
	if c.Flags&cqeFBuffer == 0 {
		return nil, false
	}
	at := int(c.Flags>>cqeBufferShift) * r.bufs.size
	n := max(int(c.Res), 0)
	return r.bufs.mem[at : at+n : at+r.bufs.size], true
}

// ReturnBuffer gives the completion's buffer, if it has one, back to the
// ring, for the kernel to receive into again (from the next Enter on).
func (r *Ring) ReturnBuffer(c Completion) {
	if c.Flags&cqeFBuffer != 0 {
		r.bufs.add(int(c.Flags >> cqeBufferShift))
	}
}
