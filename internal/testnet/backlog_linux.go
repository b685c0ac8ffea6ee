package testnet

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// FullBacklog listens on a loopback port whose listen backlog is full:
// listen(0), and one connection nobody accepts. Linux then drops every
// new handshake's SYN (counted in ListenOverflows), so a connect to the
// address is still trying when the kernel's minutes of retransmissions
// are not over. It returns the address; all is closed when the test
// ends.
func FullBacklog(t *testing.T) (addr string) {
	t.Helper()
	lfd := socket(t)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	if err := unix.Listen(lfd, 0); err != nil {
		t.Fatalf("listen: %v", err)
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	if err := unix.Connect(socket(t), sa); err != nil && err != unix.EINPROGRESS {
		t.Fatalf("connect: %v", err)
	}
	// The listener is readable once the connection is in its accept
	// queue: one more than the backlog of 0, so the queue is full.
	ready := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
	for deadline := time.Now().Add(time.Minute); ; {
		n, err := unix.Poll(ready, int(time.Until(deadline)/time.Millisecond))
		switch {
		case n == 1:
			return fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
		case err != nil && err != unix.EINTR:
			t.Fatalf("poll: %v", err)
		case time.Now().After(deadline):
			t.Fatalf("the connection did not reach the accept queue in a minute")
		}
	}
}

// socket is a non-blocking TCP socket, closed when the test ends.
func socket(t *testing.T) int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}
