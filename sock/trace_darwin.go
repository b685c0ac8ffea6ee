package sock

import "fmt"

// sockTypeFlags name the flags of a socket type, for tracing: macOS has
// none.
var sockTypeFlags []flagName

// accept traces accept. x/sys passes the kernel a buffer of its own,
// which it does not show: the trace shows the address it read.
func (t *traceWriter) accept(tid, fd int, nonblock bool, peer peerAddr, nfd int, err error) {
	addr := "{...}, [...]"
	if err == nil {
		addr = addrOut(peer.sa)
	}
	t.trace(tid, acceptCall, nfd, err, fmt.Sprintf("%d, %s", fd, addr))
}

// sendArgs are the arguments send passes after the length, for tracing.
func sendArgs(flags int) string {
	if flags == 0 {
		return ""
	}
	return ", " + flagNames(flags, msgNames)
}
