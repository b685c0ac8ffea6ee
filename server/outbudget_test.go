package server

import (
	"bufio"
	"errors"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOutBudgetCounts: hold counts what a connection holds up and down,
// and room gives outLimit while the budget has that much left, what is
// left near it, and past it what a connection lacks of outFloor; keep
// keeps a small reply buffer past it.
func TestOutBudgetCounts(t *testing.T) {
	b := newOutBudget(outLimit + 1000)
	var h1, h2 int
	want := func(held, room1, room2 int) {
		t.Helper()
		if got := b.Held(); got != held {
			t.Fatalf("budget counts %d bytes held, want %d", got, held)
		}
		if got := b.room(h1); got != room1 {
			t.Fatalf("room of the first, holding %d: %d, want %d", h1, got, room1)
		}
		if got := b.room(h2); got != room2 {
			t.Fatalf("room of the second, holding %d: %d, want %d", h2, got, room2)
		}
	}
	want(0, outLimit, outLimit)
	b.hold(&h1, 500)
	want(500, outLimit, outLimit) // outLimit+500 left
	b.hold(&h1, 2000)
	want(2000, outLimit-1000, outLimit-1000) // near: what is left
	b.hold(&h2, 2*outLimit)
	want(2*outLimit+2000, 0, 0) // past: both hold more than the floor
	b.hold(&h1, outFloor/4)
	want(2*outLimit+outFloor/4, outFloor-outFloor/4, 0)
	b.hold(&h2, 0) // closed
	want(outFloor/4, outLimit, outLimit)
	b.hold(&h1, 0)
	want(0, outLimit, outLimit)
	if got := b.limit(make([]byte, 10, 100)); got != outLimit {
		t.Fatalf("limit within the budget: %d, want %d", got, outLimit)
	}
	b.hold(&h2, 2*outLimit)
	if got := b.limit(make([]byte, 10, outFloor)); got != 10 {
		t.Fatalf("limit past the budget, holding the floor: %d, want the replies waiting (10)", got)
	}
	if got := b.limit(nil); got != outFloor {
		t.Fatalf("limit past the budget, holding nothing: %d, want %d", got, outFloor)
	}
	if got := b.readLimit(make([]byte, 0, outFloor), 4096); got != 1 {
		t.Fatalf("read past the budget, holding the floor: %d, want 1", got)
	}
	// Past the budget, a blocking mode's reply buffer is kept up to 4 ×
	// outFloor, so that it answers in it without allocating again.
	for _, tc := range []struct {
		held int
		keep bool
	}{{outFloor, true}, {4 * outFloor, true}, {4*outFloor + 1, false}, {outLimit, false}} {
		if got := b.keep(tc.held); got != tc.keep {
			t.Fatalf("past the budget, keep a buffer of %d bytes: %v, want %v", tc.held, got, tc.keep)
		}
	}
	b.hold(&h2, 0)
	if !b.keep(outLimit) {
		t.Fatalf("within the budget, a buffer of outLimit not kept")
	}
}

// TestNeverReadersBounded: clients that send lines and never read the
// replies make the server hold no more than the budget allows
// (outBudget: twice the budget and 4 × outFloor a connection, and in
// the uring mode a receive buffer more), in every
// mode that serves them at once, while another client is answered; and
// all of it is given back when they go.
func TestNeverReadersBounded(t *testing.T) {
	const clients, budget = 60, 64 << 10
	big := "1" + strings.Repeat("0", 100) // replies of 110 bytes to lines of 2
	for _, mode := range []string{Threaded, Poll, Event, Uring} {
		t.Run(mode, func(t *testing.T) {
			if mode == Uring {
				skipRefused(t, CheckUring())
			}
			bound := 2*budget + clients*4*outFloor
			if mode == Uring {
				bound += clients * readSize // uringBufSize, on Linux
			}
			srv, logs, stop := serve(t, Config{Mode: mode, Loops: 2, OutBudget: budget})
			defer stop()
			connect := func() *net.TCPConn {
				return dial(t, srv).(*net.TCPConn)
			}
			good := connect()
			defer good.Close()
			goodR := bufio.NewReader(good)
			ask := func(line, want string) {
				t.Helper()
				good.SetDeadline(time.Now().Add(timeout))
				if _, err := good.Write([]byte(line)); err != nil {
					t.Fatal(err)
				}
				if got, err := goodR.ReadString('\n'); got != want+"\r\n" {
					t.Fatalf("the good client got %q, %v; want %q", got, err, want)
				}
				if held := srv.outBudget.Held(); held > bound {
					t.Fatalf("the connections hold %d bytes, bound %d", held, bound)
				}
			}
			ask(big+"\n", "  --> 0")
			var wg sync.WaitGroup
			var hogs []*net.TCPConn
			for i := 0; i < clients; i++ {
				c := connect()
				hogs = append(hogs, c)
				wg.Add(1)
				go func() {
					defer wg.Done()
					// 64 KiB of lines, 3.5 MB of replies: more than the
					// socket buffers take. A write the server's flow
					// control blocks ends at the deadline.
					c.SetWriteDeadline(time.Now().Add(timeout))
					if _, err := c.Write([]byte(strings.Repeat("0\n", 32<<10))); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Error(err)
					}
				}()
			}
			// The server reaches its budget, and goes on answering.
			for deadline := time.Now().Add(timeout); srv.outBudget.Held() < budget; {
				if time.Now().After(deadline) {
					t.Fatalf("the connections hold %d bytes, never the budget (%d)", srv.outBudget.Held(), budget)
				}
				ask("0\n", "  --> "+big)
			}
			for i := 0; i < 20; i++ {
				ask("0\n", "  --> "+big)
			}
			t.Logf("%d never-reading clients hold %d bytes (budget %d, bound %d)", clients, srv.outBudget.Held(), budget, bound)
			for _, c := range hogs {
				c.SetLinger(0)
				c.Close()
			}
			wg.Wait()
			good.Close()
			for deadline := time.Now().Add(timeout); srv.outBudget.Held() != 0; runtime.Gosched() {
				if time.Now().After(deadline) {
					t.Fatalf("%d bytes still counted after the clients left; log:\n%.2000s", srv.outBudget.Held(), logs.String())
				}
			}
		})
	}
}
