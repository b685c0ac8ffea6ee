package server

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAcceptPauseOutlastsSignals: the blocking modes' pause when out of
// descriptors lasts acceptPauseTime although signals interrupt its poll.
// The pause runs on a thread of its own, which another goroutine sends
// SIGURG (the runtime's preemption signal, which Go handles and ignores
// outside a preemption) every millisecond until the pause ends: a poll
// that one of them interrupts returns early, and the pause must poll
// again for the time left. Load only lengthens the pause.
func TestAcceptPauseOutlastsSignals(t *testing.T) {
	tids := make(chan int)
	paused := make(chan time.Duration)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tids <- unix.Gettid()
		start := time.Now()
		pauseAccepting()
		paused <- time.Since(start)
	}()
	tid := <-tids
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	bound := time.After(timeout)
	signals := 0
	for {
		select {
		case d := <-paused:
			if d < acceptPauseTime {
				t.Fatalf("the pause lasted %v with %d signals sent to its thread; want %v", d, signals, acceptPauseTime)
			}
			return
		case <-tick.C:
			if err := unix.Tgkill(unix.Getpid(), tid, unix.SIGURG); err != nil {
				t.Fatalf("tgkill: %v", err)
			}
			signals++
		case <-bound:
			t.Fatalf("the pause has not ended after %v", timeout)
		}
	}
}
