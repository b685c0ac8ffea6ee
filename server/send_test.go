package server

// Replies the socket cannot take at once: each mode keeps what a send
// left and sends it, in order, once there is room.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// smallBuf is the socket buffer size the tests ask for on both ends, so
// that a few KB of replies fill them: the kernel's smallest, about.
const smallBuf = 4096

// shrinkSends makes the sockets srv accepts from now on take few bytes
// at a time: an accepted socket inherits the listening socket's
// SO_SNDBUF.
func shrinkSends(t *testing.T, srv *Server) {
	t.Helper()
	if err := unix.SetsockoptInt(srv.lfd, unix.SOL_SOCKET, unix.SO_SNDBUF, smallBuf); err != nil {
		t.Fatal(err)
	}
}

// exchange connects to addr with a small receive buffer, sends send,
// half-closes, and returns all the server sent until it closed. It
// writes while it reads, so a server that stops reading until its
// replies are read cannot block it.
func exchange(t *testing.T, addr, send string) string {
	t.Helper()
	d := net.Dialer{Timeout: timeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		rc.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, smallBuf)
		})
		return err
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte(send))
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		wrote <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the replies: %v (after %d bytes)", err, len(got))
	}
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatalf("sending: %v", err)
		}
	case <-time.After(timeout):
		t.Fatal("the send did not end")
	}
	return string(got)
}

// TestPartialSends: a client that pipelines more lines than its socket
// buffers hold replies for, reading meanwhile through a small window,
// gets every reply, whole and in order, in every mode, with and without
// a state file: the server's sends are partial again and again, and
// each keeps the unsent rest (the loop's sends of new replies and of
// held ones, the uring mode's send completions).
func TestPartialSends(t *testing.T) {
	const lines = 20000 // about 220 KB of replies, in buffers of 4 KB
	for _, mode := range Modes {
		for _, saved := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/state=%v", mode, saved), func(t *testing.T) {
				cfg := Config{Mode: mode, Loops: 1}
				if saved {
					cfg.StatePath = filepath.Join(t.TempDir(), "counter")
				}
				srv, _, stop := serve(t, cfg)
				defer stop()
				shrinkSends(t, srv)
				r := bufio.NewReader(strings.NewReader(exchange(t, srv.Addr().String(), strings.Repeat("1\n", lines))))
				for i := 0; i < lines; i++ {
					if line, err := r.ReadString('\n'); line != fmt.Sprintf("  --> %d\r\n", i) {
						t.Fatalf("reply %d of %d: %q, %v", i, lines, line, err)
					}
				}
				if rest, _ := io.ReadAll(r); len(rest) > 0 {
					t.Fatalf("after the replies: %q", rest)
				}
			})
		}
	}
}
