package strace

import "fmt"

// sockTypeFlags name the flags of a socket type, for tracing: macOS has
// none.
var sockTypeFlags []Flag

// Accept traces accept (call). x/sys passes the kernel a buffer of its
// own, which it does not show: the trace shows the address it read.
func (t *Tracer) Accept(tid int, call string, fd int, peer AcceptArgs, nfd int, err error) {
	addr := "{...}, [...]"
	if err == nil {
		addr = addrOut(peer.Addr)
	}
	t.Call(tid, call, nfd, err, fmt.Sprintf("%d, %s", fd, addr))
}

// sendArgs are the arguments send passes after the length, for tracing.
func sendArgs(flags int) string {
	if flags == 0 {
		return ""
	}
	return ", " + Flags(flags, msgNames)
}
