package strace

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestQuote: strace's escapes, octal with three digits before a digit,
// and "..." after a cut.
func TestQuote(t *testing.T) {
	tr := New(nil, 8, false)
	cases := map[string]string{
		"5\r\n":                `"5\r\n"`,
		"a\"b\\c":              `"a\"b\\c"`,
		"\x00":                 `"\0"`,
		"\x001":                `"\0001"`,
		"\x7fE\x01\t\v\f":      `"\177E\1\t\v\f"`,
		"0123456789":           `"01234567"...`,
		"\xff\xfe":             `"\377\376"`,
		strings.Repeat("x", 8): `"xxxxxxxx"`,
		strings.Repeat("x", 9): `"xxxxxxxx"...`,
		"":                     `""`,
	}
	for in, want := range cases {
		if got := tr.Quote([]byte(in)); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestSockaddrString(t *testing.T) {
	s, n := sockaddrString(&unix.SockaddrInet6{Port: 50007, Addr: netip.MustParseAddr("::1").As16()})
	if n != 28 || s != `{sa_family=AF_INET6, sin6_port=htons(50007), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}` {
		t.Errorf("IPv6: %s, %d", s, n)
	}
	s, n = sockaddrString(&unix.SockaddrInet4{Port: 7, Addr: netip.MustParseAddr("10.1.2.3").As4()})
	if n != 16 || s != `{sa_family=AF_INET, sin_port=htons(7), sin_addr=inet_addr("10.1.2.3")}` {
		t.Errorf("IPv4: %s, %d", s, n)
	}
}

// TestTraceLine: the call, "=" in column 40 (or after a space), the
// result; a failure with the errno's name and text.
func TestTraceLine(t *testing.T) {
	var buf bytes.Buffer
	tr := New(&buf, 32, false)
	tr.Call(0, "listen", 0, nil, "3, 4096")
	tr.Call(0, "bind", 0, unix.EADDRINUSE, `3, {sa_family=AF_INET, sin_port=htons(50007), sin_addr=inet_addr("127.0.0.1")}, 16`)
	tr.tids = true
	tr.Call(42, "close", 0, nil, "4")
	want := "listen(3, 4096)                         = 0\n" +
		`bind(3, {sa_family=AF_INET, sin_port=htons(50007), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EADDRINUSE (Address already in use)` + "\n" +
		"[pid    42] close(4)                    = 0\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	if got := Flags(unix.POLLIN|unix.POLLHUP|0x4000, pollNames); got != "POLLIN|POLLHUP|0x4000" {
		t.Errorf("poll flags %s, want POLLIN|POLLHUP|0x4000", got)
	}
}
