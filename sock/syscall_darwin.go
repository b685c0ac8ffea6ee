package sock

import (
	"syscall"

	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// macOS has neither accept4 nor the SOCK_CLOEXEC and SOCK_NONBLOCK flags,
// nor MSG_NOSIGNAL: each new descriptor gets them from fcntl and
// setsockopt right after it is made. syscall.ForkLock keeps an exec in
// another goroutine from inheriting the descriptor in between. These are
// the system calls behind Socket, Accept and Send there.

// socketFlags are the flags Socket adds to the socket type: macOS has
// none.
const socketFlags = 0

// socket is socket(2), then fcntl(FD_CLOEXEC).
func socket(domain, typ, proto int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(domain, typ, proto)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	return fd, err
}

// socketStandIns is setsockopt(SO_NOSIGPIPE), for MSG_NOSIGNAL.
func socketStandIns(fd int) error { return noSigpipe(fd) }

// acceptCall is the system call Accept makes.
const acceptCall = "accept"

// peerAddr is the peer's address as x/sys's Accept returns it: x/sys
// passes the kernel a buffer of its own.
type peerAddr struct {
	sa unix.Sockaddr
}

// sockaddr is the peer's address.
func (a *peerAddr) sockaddr() unix.Sockaddr { return a.sa }

// traced is the peer's address, for accept's trace line.
func (a *peerAddr) traced(nonblock bool) strace.AcceptArgs {
	return strace.AcceptArgs{Addr: a.sa}
}

// accept is accept(2), then fcntl(FD_CLOEXEC); acceptStandIns does the
// rest, nonblock included. The two run under syscall.ForkLock, so that a
// fork in another thread cannot inherit the descriptor in between; a
// blocking accept first waits in poll(2) for a connection, without the
// lock, which a fork would otherwise wait for as long as accept does.
func accept(fd int, nonblock bool, peer *peerAddr) (nfd int, err error) {
	if !nonblock {
		ready := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := Poll(ready, -1); err != nil {
			return -1, err
		}
	}
	syscall.ForkLock.RLock()
	nfd, peer.sa, err = unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	return nfd, err
}

// acceptStandIns is setsockopt(SO_NOSIGPIPE), for MSG_NOSIGNAL, and if
// nonblock is set fcntl(O_NONBLOCK), for SOCK_NONBLOCK.
func acceptStandIns(fd int, nonblock bool) error {
	err := noSigpipe(fd)
	if err == nil && nonblock {
		err = SetNonblock(fd)
	}
	return err
}

func noSigpipe(fd int) error {
	return SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
}

// sendCall is the name errors and traces give to Send: on macOS it is
// write(2) on a socket with SO_NOSIGPIPE, or sendmsg(2) when there are
// flags (x/sys's sendto does not return the count sent).
func sendCall(flags int) string {
	if flags == 0 {
		return "write"
	}
	return "sendmsg"
}

// send is write(2), or sendmsg(2) with flags: SO_NOSIGPIPE, set on every
// socket, stands in for MSG_NOSIGNAL.
func send(fd int, p []byte, flags int) (int, error) {
	if flags == 0 {
		return unix.Write(fd, p)
	}
	return unix.SendmsgN(fd, p, nil, nil, flags)
}

// recv is recv(2): the recvfrom system call, whose address macOS fills
// in for a datagram only.
func recv(fd int, p []byte, flags int) (int, error) {
	n, _, err := unix.Recvfrom(fd, p, flags)
	return n, err
}
