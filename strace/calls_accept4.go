//go:build linux || freebsd

package strace

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// sockTypeFlags name the flags of a socket type, for tracing.
var sockTypeFlags = []Flag{{unix.SOCK_CLOEXEC, "SOCK_CLOEXEC"}, {unix.SOCK_NONBLOCK, "SOCK_NONBLOCK"}}

// Accept traces accept4 (call): the buffer the kernel was given for the
// peer's address, as it filled it in, or its address if the call failed;
// the buffer's size before and after; and the flags.
func (t *Tracer) Accept(tid int, call string, fd int, peer AcceptArgs, nfd int, err error) {
	args := fmt.Sprintf("%d, %#x, [%d]", fd, peer.Buf, unix.SizeofSockaddrAny)
	if err == nil {
		addr, _ := sockaddrString(peer.Addr)
		args = fmt.Sprintf("%d, %s, [%d => %d]", fd, addr, unix.SizeofSockaddrAny, peer.Size)
	}
	t.Call(tid, call, nfd, err, args+", "+Flags(peer.Flags, sockTypeFlags))
}

// sendArgs are the arguments send passes after the length, for tracing:
// the flags, with MSG_NOSIGNAL, and no address.
func sendArgs(flags int) string {
	return ", " + Flags(flags|unix.MSG_NOSIGNAL, msgNames) + ", NULL, 0"
}
