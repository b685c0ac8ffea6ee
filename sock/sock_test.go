package sock

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSplitHostPort(t *testing.T) {
	cases := []struct {
		in   string
		host string
		port int
		bad  string
	}{
		{"127.0.0.1:80", "127.0.0.1", 80, ""},
		{"localhost", "localhost", 7, ""},
		{":9", "", 9, ""},
		{"[::1]:65535", "::1", 65535, ""},
		{"[::1]", "::1", 7, ""},
		{"::1", "::1", 7, ""},
		{"host:0", "host", 0, ""},
		{"host:65536", "", 0, "not a number from 0 to 65535"},
		{"host:-1", "", 0, "not a number"},
		{"host:+1", "", 0, "not a number"},
		{"host:", "", 0, "not a number"},
		{"host:http", "", 0, "not a number"},
		{"[::1", "", 0, "missing ']'"},
		{"[::1]x", "", 0, "want [IPV6]:PORT"},
		{"[1.2.3.4]:80", "", 0, "not an IPv6 address"},
		{"1:2:3", "", 0, "[IPV6]:PORT"},
		// A bare IPv6 literal that reads as IPV6:PORT too is refused,
		// with both bracketed forms as the hint.
		{"::1:0", "", 0, "write [::1]:0 for address ::1 and port 0, or [::1:0]"},
		{"2001:db8::1:5000", "", 0, "[2001:db8::1]:5000"},
		{"2001:db8::1:50007", "", 0, "write an IPv6 address with a port as [IPV6]:PORT"},
		{"[::1:0]", "::1:0", 7, ""},
		{"fe80::1", "fe80::1", 7, ""},
		{"::", "::", 7, ""},
		{"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", 7, ""},
	}
	for _, tc := range cases {
		host, port, err := SplitHostPort(tc.in, 7)
		if tc.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("SplitHostPort(%q) error %v, want one saying %q", tc.in, err, tc.bad)
			}
			continue
		}
		if err != nil || host != tc.host || port != tc.port {
			t.Errorf("SplitHostPort(%q) = %q, %d, %v; want %q, %d", tc.in, host, port, err, tc.host, tc.port)
		}
	}
}

// TestErrorsNameTheCall: a failing call says which call it was, and the
// errno is still there for errors.Is.
func TestErrorsNameTheCall(t *testing.T) {
	fd, err := Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(fd)
	if err := Bind(fd, Sockaddr(netip.MustParseAddr("127.0.0.1"), 0)); err != nil {
		t.Fatal(err)
	}
	sa, _ := Getsockname(fd)
	other, _ := Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	defer Close(other)
	err = Bind(other, sa)
	if err == nil || err.Error() != "bind: address already in use" || !errors.Is(err, unix.EADDRINUSE) {
		t.Fatalf("second bind: %v, want bind: address already in use", err)
	}
	// Nobody listens on fd's port: connect is refused.
	err = Connect(other, sa)
	if err == nil || !strings.HasPrefix(err.Error(), "connect: ") || !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("connect: %v, want connect: connection refused", err)
	}
	if _, err := Read(-1, make([]byte, 1)); err == nil || !strings.HasPrefix(err.Error(), "read: ") {
		t.Fatalf("read(-1): %v", err)
	}
}

// TestSendToClosedPeer: EPIPE, not SIGPIPE (which would end the test).
func TestSendToClosedPeer(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(fds[0])
	Close(fds[1])
	if _, err := Send(fds[0], []byte("x"), 0); !errors.Is(err, unix.EPIPE) {
		t.Fatalf("send to a closed peer: %v, want EPIPE", err)
	}
}

func TestPipe(t *testing.T) {
	r, w, err := Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer Close(r)
	defer Close(w)
	if _, err := Read(r, make([]byte, 1)); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("read of an empty pipe: %v, want EAGAIN (non-blocking)", err)
	}
	Write(w, []byte{1})
	if n, err := Read(r, make([]byte, 8)); n != 1 || err != nil {
		t.Fatalf("read %d, %v", n, err)
	}
}

// BenchmarkTraceOff: a read with tracing off, beside the bare x/sys call:
// the difference is the cost of -trace when it is not given.
func BenchmarkTraceOff(b *testing.B) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer Close(fds[0])
	defer Close(fds[1])
	buf, one := make([]byte, 16), []byte{1}
	b.Run("sock.Read", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			unix.Write(fds[1], one)
			Read(fds[0], buf)
		}
	})
	b.Run("unix.Read", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			unix.Write(fds[1], one)
			unix.Read(fds[0], buf)
		}
	})
}

// TestAcceptRetriesEINTR: an accept that a signal interrupts (EINTR) is
// made again, and returns the connection waiting, not the error. The
// kernel returns EINTR from accept only when a signal comes during the
// wait, which a test cannot time: a stand-in for the call returns it.
func TestAcceptRetriesEINTR(t *testing.T) {
	lfd, err := Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(lfd)
	loopback := Sockaddr(netip.MustParseAddr("127.0.0.1"), 0)
	if err := Bind(lfd, loopback); err != nil {
		t.Fatal(err)
	}
	if err := Listen(lfd, 1); err != nil {
		t.Fatal(err)
	}
	sa, err := Getsockname(lfd)
	if err != nil {
		t.Fatal(err)
	}
	client, err := Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(client)
	if err := Connect(client, sa); err != nil { // the backlog holds it: Accept will not wait
		t.Fatal(err)
	}
	real := acceptSyscall
	defer func() { acceptSyscall = real }()
	interrupted := 0
	acceptSyscall = func(fd int, nonblock bool, peer *peerAddr) (int, error) {
		if interrupted < 2 {
			interrupted++
			return -1, unix.EINTR
		}
		return real(fd, nonblock, peer)
	}
	fd, peer, err := Accept(lfd, true)
	if err != nil {
		t.Fatalf("Accept after two EINTRs: %v", err)
	}
	defer Close(fd)
	if interrupted != 2 || peer == nil {
		t.Fatalf("Accept returned fd %d, peer %v after %d EINTRs; want the connection after 2", fd, peer, interrupted)
	}
}
