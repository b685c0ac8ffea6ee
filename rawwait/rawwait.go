// Package rawwait is the policy for calls made without telling Go's
// scheduler (raw system calls): which waits may be raw, and how many.
//
// Go's syscall.Syscall tells the scheduler a thread is entering the kernel
// (entersyscall) and is back (exitsyscall). If the call outlasts a tick of
// the runtime's monitor thread (sysmon, which sleeps 20 µs between looks
// while it finds work, up to 10 ms when it finds none), and no other P is
// idle to take new work, sysmon hands the thread's P, its right to run Go
// code, to another thread, waking one with a futex; the thread coming back
// must find a P again. That is right for a call that may block for long.
// For a call that does not wait it is pure cost, and an event loop makes
// several per reply. So:
//
//   - recv and send with MSG_DONTWAIT (they do not wait for data or for
//     room), and a poller's Wait with timeout 0, are made with
//     RawSyscall: into the kernel and back, as from C (Linux and FreeBSD
//     sockets; macOS's calls go through libc, and kqueue's and poll's
//     Waits are the scheduler's).
//   - An epoll loop's blocking Wait returns within microseconds under load
//     and blocks only when there is nothing to do. Made raw too (WaitRaw),
//     its thread keeps its P while it waits, as a C event loop keeps its
//     thread. Goroutines that become runnable meanwhile (the one that
//     handles a signal, the garbage collector's workers) need another P:
//     at most GOMAXPROCS-1 pollers of the program wait raw, so one is
//     left; serve raises GOMAXPROCS to leave it (SpareP).
//   - What interrupts a raw wait is the runtime's preemption signal
//     (SIGURG): sysmon sends it to a goroutine that has run for 10 ms
//     without a break, and the garbage collector to every thread when it
//     must stop them all. epoll_wait then returns EINTR, and Wait returns
//     no events. The next blocking Wait is made the scheduler's way: a
//     loop that had nothing to do for 10 ms then sleeps until its next
//     event, with its P handed over once, instead of being woken every
//     10 ms; the Wait after that is raw again.
//   - So where the runtime sends no such signal (GODEBUG=asyncpreemptoff=1)
//     no wait is raw: a stop of the world would wait for the loop's next
//     event.
//
// Measured in docs/measuring.md ("The Go runtime in the hot path"): at depth 1 the
// handing over of P around each wait, and sysmon's wake-ups, cost more
// server CPU per reply than the Go code of the reply itself.
package rawwait

import (
	"os"
	"runtime"
	"strings"
	"sync/atomic"
)

// rawWaiters counts the pollers whose blocking Waits are raw.
var rawWaiters atomic.Int32

// Waiters is how many reservations of Reserve are held now.
func Waiters() int { return int(rawWaiters.Load()) }

// Reserve reserves a P for one more raw waiter: true if fewer than
// GOMAXPROCS-1 wait raw now and the runtime preempts with signals.
func Reserve() bool {
	if asyncPreemptOff() {
		return false
	}
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

// Release ends a reservation of Reserve.
func Release() { rawWaiters.Add(-1) }

// asyncPreemptOff says whether GODEBUG turns the runtime's preemption
// signals off (the last asyncpreemptoff setting counts, as for the
// runtime).
func asyncPreemptOff() bool {
	off := false
	for _, kv := range strings.Split(os.Getenv("GODEBUG"), ",") {
		if v, ok := strings.CutPrefix(kv, "asyncpreemptoff="); ok {
			off = v == "1"
		}
	}
	return off
}

// SpareP gives loops raw waiters a P each and one more: it raises
// GOMAXPROCS to loops+1 where it is lower. Each loop's thread keeps its P
// while it waits in epoll_wait or io_uring_enter, as a C loop keeps its
// thread, only while one P is left for the rest of the program (signals,
// the garbage collector). A server pinned to one CPU (taskset -c 1) starts
// with GOMAXPROCS 1: its loop would wait the scheduler's way, and the
// runtime, with no idle P, would hand its P to another thread at every
// wait that outlasts a tick of its monitor (docs/measuring.md, "The Go runtime in
// the hot path", measures it).
func SpareP(loops int) {
	if runtime.GOMAXPROCS(0) < loops+1 {
		runtime.GOMAXPROCS(loops + 1)
	}
}
