package sock

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// macOS has neither accept4 nor the SOCK_CLOEXEC and SOCK_NONBLOCK flags,
// nor MSG_NOSIGNAL: each new descriptor gets them from fcntl and
// setsockopt right after it is made. syscall.ForkLock keeps an exec in
// another goroutine from inheriting the descriptor in between.

// sendCall is the name errors and traces give to Send: on macOS it is
// write(2) on a socket with SO_NOSIGPIPE.
const sendCall = "write"

// sendArgs are the arguments send adds after the length, for tracing.
const sendArgs = ""

// sockTypeFlags name the flags of a socket type, for tracing: macOS has
// none.
var sockTypeFlags []flagName

// Socket creates an endpoint for communication and returns its descriptor:
// socket(2), then fcntl(FD_CLOEXEC) and setsockopt(SO_NOSIGPIPE).
func Socket(domain, typ, proto int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(domain, typ, proto)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if tracer != nil {
		tracer.trace(tracer.tid(), "socket", fd, err, fmt.Sprintf("%s, %s, %s", name(domain, domainNames), typeString(typ), protoString(domain, proto)))
	}
	if err != nil {
		return -1, wrap("socket", err)
	}
	if err := noSigpipe(fd); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Accept takes the next completed connection from the listening socket's
// backlog and returns its descriptor and the peer's address: accept(2),
// then fcntl(FD_CLOEXEC), setsockopt(SO_NOSIGPIPE) and, if nonblock is
// set, fcntl(O_NONBLOCK).
func Accept(fd int, nonblock bool) (int, unix.Sockaddr, error) {
	var nfd int
	var sa unix.Sockaddr
	var err error
	for {
		syscall.ForkLock.RLock()
		nfd, sa, err = unix.Accept(fd)
		if err == nil {
			unix.CloseOnExec(nfd)
		}
		syscall.ForkLock.RUnlock()
		if tracer != nil {
			addr := "0x0, [16]"
			if err == nil {
				addr = addrOut(sa)
			}
			tracer.trace(tracer.tid(), "accept", nfd, err, fmt.Sprintf("%d, %s", fd, addr))
		}
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return -1, nil, wrap("accept", err)
	}
	if err = noSigpipe(nfd); err == nil && nonblock {
		err = SetNonblock(nfd)
	}
	if err != nil {
		unix.Close(nfd)
		return -1, nil, err
	}
	return nfd, sa, nil
}

func noSigpipe(fd int) error {
	return SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
}

// send is write(2): SO_NOSIGPIPE, set on every socket, stands in for
// MSG_NOSIGNAL.
func send(fd int, p []byte) (int, error) { return unix.Write(fd, p) }
