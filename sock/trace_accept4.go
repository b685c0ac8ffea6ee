//go:build linux || freebsd

package sock

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// sockTypeFlags name the flags of a socket type, for tracing.
var sockTypeFlags = []flagName{{unix.SOCK_CLOEXEC, "SOCK_CLOEXEC"}, {unix.SOCK_NONBLOCK, "SOCK_NONBLOCK"}}

// accept traces accept4: the buffer the kernel was given for the peer's
// address, as it filled it in, or its address if the call failed; the
// buffer's size before and after; and the flags.
func (t *traceWriter) accept(tid, fd int, nonblock bool, peer peerAddr, nfd int, err error) {
	args := fmt.Sprintf("%d, %#x, [%d]", fd, peer.buf, unix.SizeofSockaddrAny)
	if err == nil {
		addr, _ := sockaddrString(peer.sockaddr())
		args = fmt.Sprintf("%d, %s, [%d => %d]", fd, addr, unix.SizeofSockaddrAny, peer.size)
	}
	t.trace(tid, acceptCall, nfd, err, args+", "+flagNames(acceptFlags(nonblock), sockTypeFlags))
}

// sendArgs are the arguments send passes after the length, for tracing:
// the flags, with MSG_NOSIGNAL, and no address.
func sendArgs(flags int) string {
	return ", " + flagNames(flags|unix.MSG_NOSIGNAL, msgNames) + ", NULL, 0"
}
