//go:build linux || freebsd

package sock

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux and FreeBSD take SOCK_CLOEXEC and SOCK_NONBLOCK as flags of socket
// and accept4, so a descriptor is never open without them, not even for an
// instant in which another thread could fork.

// sendCall is the name errors and traces give to Send: send(2) is a
// library function that makes the sendto system call.
const sendCall = "sendto"

// sendArgs are the arguments send adds after the length, for tracing.
const sendArgs = ", MSG_NOSIGNAL, NULL, 0"

// sockTypeFlags name the flags of a socket type, for tracing.
var sockTypeFlags = []flagName{{unix.SOCK_CLOEXEC, "SOCK_CLOEXEC"}, {unix.SOCK_NONBLOCK, "SOCK_NONBLOCK"}}

// Socket creates an endpoint for communication and returns its descriptor:
// socket(2), with SOCK_CLOEXEC.
func Socket(domain, typ, proto int) (int, error) {
	var fd int
	err := retry(func() (err error) { fd, err = unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto); return })
	if tracer != nil {
		tracer.trace(tracer.tid(), "socket", fd, err, fmt.Sprintf("%s, %s, %s", name(domain, domainNames), typeString(typ|unix.SOCK_CLOEXEC), protoString(domain, proto)))
	}
	if err != nil {
		return -1, wrap("socket", err)
	}
	return fd, nil
}

// Accept takes the next completed connection from the listening socket's
// backlog, waiting for one if there is none and fd is blocking, and returns
// its descriptor and the peer's address: accept4(2) with SOCK_CLOEXEC, and
// SOCK_NONBLOCK if nonblock is set.
func Accept(fd int, nonblock bool) (int, unix.Sockaddr, error) {
	flags := unix.SOCK_CLOEXEC
	if nonblock {
		flags |= unix.SOCK_NONBLOCK
	}
	for {
		nfd, sa, err := unix.Accept4(fd, flags)
		if tracer != nil {
			addr := "0x0, [112]" // x/sys's own buffer: strace shows its address
			if err == nil {
				addr = addrOut(sa)
			}
			tracer.trace(tracer.tid(), "accept4", nfd, err, fmt.Sprintf("%d, %s, %s", fd, addr, flagNames(flags, sockTypeFlags)))
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, nil, wrap("accept4", err)
		}
		return nfd, sa, nil
	}
}

// send is send(fd, p, len(p), MSG_NOSIGNAL), which is the sendto system
// call with no address. x/sys's Sendto does not return the count sent, so
// the call is made directly.
func send(fd int, p []byte) (int, error) {
	var buf unsafe.Pointer
	if len(p) > 0 {
		buf = unsafe.Pointer(&p[0])
	}
	n, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(buf), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
	if errno != 0 {
		return -1, errnoErr(errno)
	}
	return int(n), nil
}

// errnoErr returns the error for errno without allocating for the ones a
// server sees all the time.
func errnoErr(errno syscall.Errno) error {
	switch errno {
	case unix.EAGAIN:
		return unix.EAGAIN
	case unix.EINTR:
		return unix.EINTR
	}
	return errno
}
