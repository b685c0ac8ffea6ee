package sock

import (
	"runtime"
	"sync/atomic"
)

// Calls made without telling Go's scheduler.
//
// Go's syscall.Syscall tells the scheduler a thread is entering the kernel
// (entersyscall) and back (exitsyscall). If the call outlasts a tick of
// the runtime's monitor thread (sysmon: 20 µs to 10 ms), sysmon hands the
// thread's P, its right to run Go code, to another thread, waking one with
// a futex if it must; the thread coming back needs a P again. That is
// right for a call that may block for long. For a call that cannot block
// it is pure cost, and an event loop makes several per reply. So:
//
//   - recv and send with MSG_DONTWAIT, and a poller's Wait with timeout
//     0, cannot block, and are made with RawSyscall: into the kernel and
//     back, as from C (Linux and FreeBSD; macOS's calls go through libc).
//   - An event loop's blocking Wait returns within microseconds under load
//     and blocks only when there is nothing to do. Made raw too (WaitRaw),
//     its thread keeps its P while it waits, as a C event loop keeps its
//     thread. The goroutines that need a P meanwhile (signal handling,
//     the garbage collector, the other loops) must find another: at most
//     GOMAXPROCS-1 pollers of the program wait raw, so one P is always
//     left. A raw wait still ends when the runtime preempts its thread
//     (sysmon signals a goroutine that has run 10 ms): epoll_wait returns
//     EINTR, and Wait returns no events. The next blocking Wait is made
//     the scheduler's way: a loop with nothing to do for 10 ms then
//     sleeps until its next event, with its P handed over once, instead
//     of being woken every 10 ms; the Wait after that is raw again.
//
// Measured (NOTES.md, "Readiness and completion"): at depth 1 the handing
// over of P around a blocking epoll_wait cost more server CPU per reply
// than the Go code of the reply itself.

// rawWaiters counts the pollers whose blocking Waits are raw.
var rawWaiters atomic.Int32

// spareP reserves a P for one more raw waiter: true if fewer than
// GOMAXPROCS-1 wait raw now.
func spareP() bool {
	for {
		n := rawWaiters.Load()
		if int(n)+1 >= runtime.GOMAXPROCS(0) {
			return false
		}
		if rawWaiters.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// giveBackP ends a reservation of spareP.
func giveBackP() { rawWaiters.Add(-1) }
