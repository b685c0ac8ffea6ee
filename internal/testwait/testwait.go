// Package testwait bounds the tests' waits: a test that waits on a
// channel, a WaitGroup or a function fails after a timeout, saying what
// it waited for, instead of hanging until go test's own limit (ten
// minutes). Only tests import it.
package testwait

import (
	"fmt"
	"runtime/debug"
	"sync"
	"testing"
	"time"
)

// Timeout bounds each wait: far longer than any wait of a test that
// works, even on a loaded machine, and far shorter than go test's limit.
const Timeout = time.Minute

// Recv receives from ch, or fails the test if nothing comes within
// Timeout. what names what the test waits for.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	v, _ := Next(t, ch, what)
	return v
}

// Next is Recv that also says, as a receive's ok does, whether the value
// came from a send (true) or ch is closed (false).
func Next[T any](t testing.TB, ch <-chan T, what string) (T, bool) {
	t.Helper()
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	select {
	case v, ok := <-ch:
		return v, ok
	case <-timer.C:
		t.Fatalf("%s: nothing after %v", what, Timeout)
		panic("unreachable")
	}
}

// Group waits for wg, or fails the test if it is not done within
// Timeout. what names what the test waits for.
func Group(t testing.TB, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	Recv(t, done, what)
}

// Watchdog ends the test binary, with every goroutine's stack, if the
// test t is still running after Timeout: for a test whose own code, not
// a wait, could loop forever if the code under test were broken (a test
// cannot stop a goroutine that does not wait). Call it first in the test.
func Watchdog(t testing.TB) {
	timer := time.AfterFunc(Timeout, func() {
		debug.SetTraceback("all")
		panic(fmt.Sprintf("%s: still running after %v", t.Name(), Timeout))
	})
	t.Cleanup(func() { timer.Stop() })
}
