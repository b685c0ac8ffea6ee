package sock

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRecvDontwait: recv with MSG_DONTWAIT reads what is there, and says
// EAGAIN, naming recvfrom, when nothing is.
func TestRecvDontwait(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(fds[0])
	defer Close(fds[1])
	buf := make([]byte, 8)
	if n, err := Recv(fds[0], buf, unix.MSG_DONTWAIT); !errors.Is(err, unix.EAGAIN) || n != 0 || !strings.HasPrefix(err.Error(), "recvfrom:") {
		t.Fatalf("recv with nothing there: %d, %v; want 0, recvfrom: EAGAIN", n, err)
	}
	Send(fds[1], []byte("5\n"), 0)
	if n, err := Recv(fds[0], buf, unix.MSG_DONTWAIT); err != nil || string(buf[:n]) != "5\n" {
		t.Fatalf("recv: %q, %v", buf[:n], err)
	}
	Close(fds[1])
	if n, err := Recv(fds[0], buf, unix.MSG_DONTWAIT); err != nil || n != 0 {
		t.Fatalf("recv at the end of the stream: %d, %v; want 0, nil", n, err)
	}
}
