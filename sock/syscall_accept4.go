//go:build linux || freebsd

package sock

import (
	"syscall"
	"unsafe"

	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// Linux and FreeBSD take SOCK_CLOEXEC and SOCK_NONBLOCK as flags of socket
// and accept4, so a descriptor is never open without them, not even for an
// instant in which another thread could fork; and send takes MSG_NOSIGNAL.
// These are the system calls behind Socket, Accept and Send there.

// socketFlags are the flags Socket adds to the socket type.
const socketFlags = unix.SOCK_CLOEXEC

// socket is socket(2).
func socket(domain, typ, proto int) (fd int, err error) {
	err = retry(func() (err error) { fd, err = unix.Socket(domain, typ, proto); return })
	return fd, err
}

// socketStandIns: socket's flag did it all.
func socketStandIns(fd int) error { return nil }

// acceptCall is the system call Accept makes.
const acceptCall = "accept4"

// peerAddr is accept4's address argument: the buffer the kernel writes
// the peer's address into, as into C's struct sockaddr_storage, and its
// size, which the kernel sets to the size of the address.
type peerAddr struct {
	rsa  unix.RawSockaddrAny
	size uint32
	buf  uintptr // rsa's address as the kernel got it, for the trace
}

// sockaddr is the address the kernel wrote.
func (a *peerAddr) sockaddr() unix.Sockaddr { return sockaddrFromRaw(&a.rsa) }

// traced is the call's address argument and flags, for its trace line.
func (a *peerAddr) traced(nonblock bool) strace.AcceptArgs {
	return strace.AcceptArgs{Addr: a.sockaddr(), Buf: a.buf, Size: a.size, Flags: acceptFlags(nonblock)}
}

// acceptFlags are accept4's flags: SOCK_CLOEXEC, and SOCK_NONBLOCK if
// nonblock is set.
func acceptFlags(nonblock bool) int {
	flags := unix.SOCK_CLOEXEC
	if nonblock {
		flags |= unix.SOCK_NONBLOCK
	}
	return flags
}

// accept is accept4(fd, &peer.rsa, &peer.size, flags). x/sys's Accept4
// passes a buffer of its own, which a trace could not show.
func accept(fd int, nonblock bool, peer *peerAddr) (int, error) {
	peer.size, peer.buf = unix.SizeofSockaddrAny, uintptr(unsafe.Pointer(&peer.rsa))
	r, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&peer.rsa)), uintptr(unsafe.Pointer(&peer.size)), uintptr(acceptFlags(nonblock)), 0, 0)
	return int(r), errnoErr(errno)
}

// acceptStandIns: accept4's flags did it all.
func acceptStandIns(fd int, nonblock bool) error { return nil }

// sockaddrFromRaw reads the address the kernel wrote into rsa (C's struct
// sockaddr_storage): an IPv4 or IPv6 address, the port in network byte
// order (ntohs); nil for any other family.
func sockaddrFromRaw(rsa *unix.RawSockaddrAny) unix.Sockaddr {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		in := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return &unix.SockaddrInet4{Port: ntohs(&in.Port), Addr: in.Addr}
	case unix.AF_INET6:
		in6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return &unix.SockaddrInet6{Port: ntohs(&in6.Port), ZoneId: in6.Scope_id, Addr: in6.Addr}
	}
	return nil
}

// ntohs reads a port stored in network byte order: high byte first.
func ntohs(port *uint16) int {
	b := (*[2]byte)(unsafe.Pointer(port))
	return int(b[0])<<8 | int(b[1])
}

// sendCall is the name errors and traces give to Send: send(2) is a
// library function that makes the sendto system call.
func sendCall(flags int) string { return "sendto" }

// send is send(fd, p, len(p), flags|MSG_NOSIGNAL), which is the sendto
// system call with no address. x/sys's Sendto does not return the count
// sent, so the call is made directly.
func send(fd int, p []byte, flags int) (int, error) {
	var buf unsafe.Pointer
	if len(p) > 0 {
		buf = unsafe.Pointer(&p[0])
	}
	n, errno := syscall6(flags&unix.MSG_DONTWAIT != 0, unix.SYS_SENDTO, uintptr(fd), uintptr(buf), uintptr(len(p)), uintptr(flags|unix.MSG_NOSIGNAL), 0, 0)
	if errno != 0 {
		return -1, errnoErr(errno)
	}
	return int(n), nil
}

// recv is recv(fd, p, len(p), flags), the recvfrom system call with no
// address. x/sys's Recvfrom asks for the address, so the call is made
// directly.
func recv(fd int, p []byte, flags int) (int, error) {
	var buf unsafe.Pointer
	if len(p) > 0 {
		buf = unsafe.Pointer(&p[0])
	}
	n, errno := syscall6(flags&unix.MSG_DONTWAIT != 0, unix.SYS_RECVFROM, uintptr(fd), uintptr(buf), uintptr(len(p)), uintptr(flags), 0, 0)
	if errno != 0 {
		return -1, errnoErr(errno)
	}
	return int(n), nil
}

// syscall6 makes a system call, raw if it cannot block (rawwait).
func syscall6(raw bool, trap, a1, a2, a3, a4, a5, a6 uintptr) (uintptr, syscall.Errno) {
	if raw {
		r, _, errno := unix.RawSyscall6(trap, a1, a2, a3, a4, a5, a6)
		return r, errno
	}
	r, _, errno := unix.Syscall6(trap, a1, a2, a3, a4, a5, a6)
	return r, errno
}

// errnoErr returns the error for errno (nil for 0) without allocating for
// the ones a server sees all the time.
func errnoErr(errno syscall.Errno) error {
	switch errno {
	case 0:
		return nil
	case unix.EAGAIN:
		return unix.EAGAIN
	case unix.EINTR:
		return unix.EINTR
	}
	return errno
}
