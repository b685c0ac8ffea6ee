package sock

import (
	"unsafe"

	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// Peername returns the address of the peer of an accepted TCP socket fd
// of the given domain (AF_INET, AF_INET6): getsockopt(fd, SOL_SOCKET,
// SO_PEERNAME). It is for a server that accepted without asking for the
// address (io_uring's multishot accept). getpeername(2) would do, but
// for a connection the client has already reset it says ENOTCONN, where
// accept gives the address all the same; SO_PEERNAME asks the socket the
// question accept asks it (the kernel's getname with peer 2, which does
// not check the state). Its length must be the address's own, no more.
func Peername(fd, domain int) (unix.Sockaddr, error) {
	var rsa unix.RawSockaddrAny
	size := uint32(unix.SizeofSockaddrInet4)
	if domain == unix.AF_INET6 {
		size = unix.SizeofSockaddrInet6
	}
	err := retry(func() error {
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERNAME, uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&size)), 0)
		return errnoErr(errno)
	})
	if t := strace.Out; t != nil {
		t.Peername(t.Tid(), fd, &rsa, size, err)
	}
	if err != nil {
		return nil, wrap("getsockopt", err)
	}
	return sockaddrFromRaw(&rsa), nil
}
