package client

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// peer is a server on package net for the client to talk to: serve runs
// on its one connection; close waits for it.
type peer struct {
	ln   net.Listener
	wg   sync.WaitGroup
	port int
}

func startPeer(t *testing.T, network, addr string, serve func(net.Conn)) *peer {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{ln: ln, port: ln.Addr().(*net.TCPAddr).Port}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

// TestDialTriesEveryAddress: a name whose first address is dead (nothing
// listens on it) is reached on its second, as Python's
// create_connection does. The name resolves through the test's resolver,
// so the test does not depend on what localhost is on this system.
func TestDialTriesEveryAddress(t *testing.T) {
	p := startPeer(t, "tcp4", "127.0.0.1:0", func(c net.Conn) { c.Write([]byte("hello\n")) })
	// ::1 at the same port: dead whether or not the system has IPv6, as
	// long as nothing listens there, which a socket bound to it (not
	// listening) makes sure of where it can.
	if fd, err := sock.Socket(unix.AF_INET6, unix.SOCK_STREAM, 0); err == nil {
		defer sock.Close(fd)
		sock.Bind(fd, sock.Sockaddr(netip.IPv6Loopback(), p.port)) // if this fails, ::1 is no address here, or taken by a listener (the dial would show)
	}
	real := resolve
	t.Cleanup(func() { resolve = real })
	resolve = func(host string) ([]netip.Addr, error) {
		if host != "twice.test" {
			return nil, errors.New("unexpected name " + host)
		}
		return []netip.Addr{netip.IPv6Loopback(), netip.MustParseAddr("127.0.0.1")}, nil
	}
	fd, err := Dial("twice.test:" + strconv.Itoa(p.port))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer sock.Close(fd)
	peer, err := unix.Getpeername(fd)
	if err != nil {
		t.Fatal(err)
	}
	if got := sock.String(peer); got != "127.0.0.1:"+strconv.Itoa(p.port) {
		t.Errorf("connected to %s, want the IPv4 listener", got)
	}
}

// TestLongReplyStreams: a reply longer than any buffer is printed as it
// arrives, not held until its end: the server sends 1 MiB without a line
// end and waits until the client's output has half of it (the client
// may hold a buffer or two) before it ends the line. A client that held the reply would wait for ever (the test fails
// at its timeout).
func TestLongReplyStreams(t *testing.T) {
	const size = 1 << 20
	out := newWatchedWriter(size / 2)
	p := startPeer(t, "tcp", "127.0.0.1:0", func(c net.Conn) {
		buf := make([]byte, 64)
		if _, err := c.Read(buf); err != nil {
			return
		}
		c.Write(bytes.Repeat([]byte("7"), size))
		select {
		case <-out.reached:
		case <-time.After(10 * time.Second):
			return // the client held the reply: it gets no line end
		}
		c.Write([]byte("\r\n"))
	})
	fd, err := Dial("127.0.0.1:" + strconv.Itoa(p.port))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close(fd)
	if err := Run(fd, strings.NewReader("5\n"), out); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := "Enter next number: " + strings.Repeat("7", size) + "\nEnter next number: "
	if got := out.String(); got != want {
		t.Errorf("output %d bytes, want %d: the reply and the next prompt", len(got), len(want))
	}
}

// TestReplyLineEnds: a reply's CRLF is not printed, a '\r' of its own is,
// wherever the buffer's edge falls.
func TestReplyLineEnds(t *testing.T) {
	for _, reply := range []string{"a\r\r\n", strings.Repeat("b", 4095) + "\r\n", strings.Repeat("c", 4095) + "\rd\r\n", "e\n"} {
		p := startPeer(t, "tcp", "127.0.0.1:0", func(c net.Conn) {
			buf := make([]byte, 64)
			if _, err := c.Read(buf); err == nil {
				c.Write([]byte(reply))
			}
		})
		fd, err := Dial("127.0.0.1:" + strconv.Itoa(p.port))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err = Run(fd, strings.NewReader("5\n"), &out)
		sock.Close(fd)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		body := strings.TrimSuffix(strings.TrimSuffix(reply, "\n"), "\r")
		if want := "Enter next number: " + body + "\nEnter next number: "; out.String() != want {
			t.Errorf("reply ending %q (%d bytes) printed ending %q (%d bytes), want ending %q", tail(reply), len(reply), tail(out.String()), out.Len(), tail(want))
		}
	}
}

// TestServerCloses: a server that closes the connection instead of
// answering is an error (ErrServerClosed), whatever it sent of a reply.
func TestServerCloses(t *testing.T) {
	for _, partial := range []string{"", "  --> 12"} {
		p := startPeer(t, "tcp", "127.0.0.1:0", func(c net.Conn) {
			buf := make([]byte, 64)
			if _, err := c.Read(buf); err == nil {
				c.Write([]byte(partial))
			}
		})
		fd, err := Dial("127.0.0.1:" + strconv.Itoa(p.port))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err = Run(fd, strings.NewReader("5\n6\n"), &out)
		sock.Close(fd)
		if !errors.Is(err, ErrServerClosed) {
			t.Errorf("server closing after %q: Run: %v, want ErrServerClosed", partial, err)
		}
	}
}

// watchedWriter is a bytes.Buffer that closes reached once it holds n
// bytes.
type watchedWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	n       int
	reached chan struct{}
}

func newWatchedWriter(n int) *watchedWriter {
	return &watchedWriter{n: n, reached: make(chan struct{})}
}

func (w *watchedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	before := w.buf.Len()
	w.buf.Write(p)
	if before < w.n && w.buf.Len() >= w.n {
		close(w.reached)
	}
	return len(p), nil
}

func (w *watchedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// tail is the end of s, for a message.
func tail(s string) string { return s[max(len(s)-30, 0):] }
