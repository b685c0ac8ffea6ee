package poller

import (
	"testing"

	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

func pollers(t *testing.T) []Poller {
	ev, err := NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	return []Poller{ev, NewPoll()}
}

func find(evs []Event, fd int) (Event, bool) {
	for _, e := range evs {
		if e.Fd == fd {
			return e, true
		}
	}
	return Event{}, false
}

// TestPollers: every Poller reports the same readiness, level-triggered,
// and a hang-up as both readable and writable.
func TestPollers(t *testing.T) {
	for _, p := range pollers(t) {
		t.Run(p.Name(), func(t *testing.T) {
			defer p.Close()
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			a, b := fds[0], fds[1]
			sock.SetNonblock(a)
			defer sock.Close(a)
			if err := p.Add(a, true, false); err != nil {
				t.Fatal(err)
			}
			if evs, _ := p.Wait(0); len(evs) != 0 {
				t.Fatalf("events %v with nothing to read", evs)
			}
			sock.Send(b, []byte("hi"), 0)
			for i := 0; i < 2; i++ { // level-triggered: reported until read
				evs, err := p.Wait(1000)
				if ev, ok := find(evs, a); err != nil || !ok || !ev.Read || ev.Write {
					t.Fatalf("wait %d: %v, %v; want a readable", i, evs, err)
				}
			}
			p.Modify(a, false, true)
			evs, _ := p.Wait(1000)
			if ev, ok := find(evs, a); !ok || ev.Read || !ev.Write {
				t.Fatalf("watching for writing: %v", evs)
			}
			p.Modify(a, true, false)
			sock.Close(b) // hang-up
			evs, _ = p.Wait(1000)
			if ev, ok := find(evs, a); !ok || !ev.Read {
				t.Fatalf("after the peer closed: %v, want readable", evs)
			}
			if err := p.Remove(a); err != nil {
				t.Fatal(err)
			}
			if evs, _ := p.Wait(0); len(evs) != 0 {
				t.Fatalf("events %v after Remove", evs)
			}
		})
	}
}
