package server

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// BenchmarkLoopRoundTrip: an event loop and a uring loop, each driven by
// hand in this goroutine, serve CONNS clients that each write DEPTH
// requests at a time. Per op: every client writes its requests, the loop
// runs one batch (epoll_wait, then a read and a send per client; or one
// io_uring_enter, which also submits the sends of the last batch), and
// the clients read the replies they have. The clients' system calls are
// in every figure, the same for both loops.
func BenchmarkLoopRoundTrip(b *testing.B) {
	for _, conns := range []int{1, 16} {
		for _, depth := range []int{1, 32} {
			for _, mode := range []string{Event, Uring} {
				b.Run(fmt.Sprintf("conns=%d/P=%d/%s", conns, depth, mode), func(b *testing.B) {
					benchLoop(b, mode, conns, depth)
				})
			}
		}
	}
}

func benchLoop(b *testing.B, mode string, conns, depth int) {
	var srv *Server
	var register func(accepted)
	var batch func()
	if mode == Event {
		srv = benchListen(b, Config{Mode: Event, Loops: 1})
		l, err := srv.newLoop(0)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { l.stop(); l.close() })
		register = l.register
		batch = func() {
			events, err := l.poller.Wait(1000)
			if err != nil {
				b.Fatal(err)
			}
			l.now = time.Now()
			for _, ev := range events {
				l.handle(ev)
			}
			l.endBatch(l)
		}
	} else {
		s, l := uringLoop(b, Config{})
		srv = s
		register = l.register
		batch = func() {
			if err := l.ring.Enter(true, 1000); err != nil {
				b.Fatal(err)
			}
			l.now = time.Now()
			l.completeAll()
			l.endBatch(l)
		}
	}
	clients := make([]int, conns)
	for i := range clients {
		clients[i] = benchClient(b, srv)
		fd, peer, err := sock.Accept(srv.lfd, true)
		if err != nil {
			b.Fatal(err)
		}
		register(accepted{fd, peer})
	}
	req := []byte(strings.Repeat("1\n", depth))
	reply := make([]byte, 64*depth)
	replies := 0 // lines read by the clients
	read := func() {
		for _, cfd := range clients {
			if n, _ := unix.Read(cfd, reply); n > 0 {
				replies += bytes.Count(reply[:n], []byte("\n"))
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, cfd := range clients {
			if _, err := unix.Write(cfd, req); err != nil {
				b.Fatal(err)
			}
		}
		batch()
		read()
	}
	for deadline := time.Now().Add(timeout); replies < b.N*conns*depth; read() {
		if time.Now().After(deadline) {
			b.Fatalf("%d replies of %d", replies, b.N*conns*depth)
		}
		batch()
	}
}

// benchListen makes a server with cfg on a loopback port, closed when
// the benchmark ends.
func benchListen(b *testing.B, cfg Config) *Server {
	cfg.Addr = netipLoopback
	srv, err := Listen(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.closeListener)
	return srv
}

// benchClient connects a non-blocking client socket to srv with raw
// calls (package net would allocate and poll of its own), closed when
// the benchmark ends.
func benchClient(b *testing.B, srv *Server) int {
	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(cfd) })
	if err := unix.Connect(cfd, sock.Sockaddr(srv.Addr().Addr(), int(srv.Addr().Port()))); err != nil {
		b.Fatal(err)
	}
	unix.SetsockoptInt(cfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	unix.SetNonblock(cfd, true)
	return cfd
}
