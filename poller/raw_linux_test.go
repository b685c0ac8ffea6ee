package poller

import (
	"runtime"
	"testing"
	"time"

	"fetchadd/internal/testwait"
	"fetchadd/rawwait"
	"fetchadd/sock"
)

// TestWaitRawLeavesAP: pollers wait raw only while a P is left for the
// rest of the program, and give theirs back when closed.
func TestWaitRawLeavesAP(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	if rawwait.Waiters() != 0 {
		t.Fatalf("%d raw waiters before the test", rawwait.Waiters())
	}
	var ps []Poller
	for i := 0; i < 3; i++ {
		p, err := NewEvent()
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		ps = append(ps, p)
	}
	if !ps[0].WaitRaw() || !ps[1].WaitRaw() {
		t.Fatal("GOMAXPROCS 3: two pollers should wait raw")
	}
	if ps[2].WaitRaw() {
		t.Fatal("GOMAXPROCS 3: a third raw waiter would leave no P")
	}
	ps[0].Close()
	if !ps[2].WaitRaw() {
		t.Fatal("a closed poller did not give its P back")
	}
	runtime.GOMAXPROCS(1)
	p, err := NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.WaitRaw() {
		t.Fatal("GOMAXPROCS 1: no P to spare, yet WaitRaw said yes")
	}
	if NewPoll().WaitRaw() {
		t.Fatal("poll(2) waits raw")
	}
}

// TestRawWait: a raw blocking Wait returns the event another goroutine
// makes, which runs meanwhile on the P that was left.
func TestRawWait(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	p, r, w := rawPollerOnPipe(t)
	written := make(chan error, 1)
	waiting := make(chan struct{})
	go func() {
		<-waiting
		_, err := sock.Write(w, []byte{1})
		written <- err
	}()
	close(waiting)
	for i := 0; ; i++ { // a wait the runtime interrupts returns nothing
		evs, err := p.Wait(10_000)
		if err != nil {
			t.Fatal(err)
		}
		if ev, ok := find(evs, r); ok && ev.Read {
			break
		}
		if i == 100 {
			t.Fatalf("no event after %d waits", i)
		}
	}
	if err := testwait.Recv(t, written, "the write"); err != nil {
		t.Fatal(err)
	}
}

// TestIdleRawWaitSleeps: a loop waiting raw with nothing to do is
// interrupted by the runtime's preemption once, then waits the
// scheduler's way until its event, not woken every 10 ms.
func TestIdleRawWaitSleeps(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	p, _, w := rawPollerOnPipe(t)
	go func() {
		time.Sleep(300 * time.Millisecond) // the idle time, not a synchronisation
		sock.Write(w, []byte{1})
	}()
	empty := 0
	for {
		evs, err := p.Wait(-1)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 0 {
			break
		}
		empty++
	}
	// Woken every 10 ms, the wait would return empty about 30 times.
	if empty > 3 {
		t.Fatalf("an idle raw wait returned %d times with nothing in 300 ms", empty)
	}
}

// TestNoRawWaitWithoutPreemption: with the runtime's preemption signals
// off, nothing would interrupt a raw wait when the garbage collector stops
// the world, so no poller waits raw.
func TestNoRawWaitWithoutPreemption(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, godebug := range []string{"asyncpreemptoff=1", "gctrace=1,asyncpreemptoff=1", "asyncpreemptoff=0,asyncpreemptoff=1"} {
		t.Setenv("GODEBUG", godebug)
		p, err := NewEvent()
		if err != nil {
			t.Fatal(err)
		}
		raw := p.WaitRaw()
		p.Close()
		if raw {
			t.Fatalf("GODEBUG=%s: the poller waits raw", godebug)
		}
	}
	t.Setenv("GODEBUG", "asyncpreemptoff=1,asyncpreemptoff=0")
	p, err := NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !p.WaitRaw() {
		t.Fatal("asyncpreemptoff=0 last: no raw wait")
	}
}

// rawPollerOnPipe returns an epoll poller that waits raw (GOMAXPROCS must
// leave a P) and watches the read end of a pipe; all closed when the test
// ends.
func rawPollerOnPipe(t *testing.T) (p Poller, r, w int) {
	t.Helper()
	p, err := NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if !p.WaitRaw() {
		t.Fatalf("GOMAXPROCS %d: no raw wait", runtime.GOMAXPROCS(0))
	}
	if r, w, err = sock.Pipe(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close(r); sock.Close(w) })
	if err := p.Add(r, true, false); err != nil {
		t.Fatal(err)
	}
	return p, r, w
}
