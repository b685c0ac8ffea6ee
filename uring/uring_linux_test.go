package uring

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"fetchadd/sock"
	"fetchadd/strace"

	"golang.org/x/sys/unix"
)

// newTestUring makes a small ring on the test's thread, which it keeps
// (New's rule), closed when the test ends; it skips only where the
// kernel refuses io_uring.
func newTestUring(t *testing.T, nbufs, bufSize int) *Ring {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	r, err := New(8, nbufs, bufSize)
	var refused *RefusedError
	if errors.As(err, &refused) {
		t.Skipf("io_uring refused here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// socketpair returns a connected pair of stream sockets, closed when the
// test ends.
func socketpair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// wait enters the ring until a completion comes, and returns it.
func wait(t *testing.T, r *Ring) Completion {
	t.Helper()
	for i := 0; i < 100; i++ {
		if c, ok := r.Reap(); ok {
			return c
		}
		if err := r.Enter(true, 5000); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("no completion")
	return Completion{}
}

// TestUringOps: each operation the server uses, through the ring: a
// receive into a provided buffer, a send, a pipe read, a cancelled
// receive; completions name their operation and descriptor, and nothing
// is left in flight. Twice: with the setup flags of Linux 6.1, and with
// 5.19's, which older kernels get.
func TestUringOps(t *testing.T) {
	all := setupFlags
	defer func() { setupFlags = all }()
	for i, name := range []string{"6.1", "5.19"} {
		t.Run(name, func(t *testing.T) {
			setupFlags = all[i:]
			testUringOps(t)
		})
	}
}

func testUringOps(t *testing.T) {
	r := newTestUring(t, 4, 64)
	if want := setupFlags[0]; r.flags != want {
		t.Fatalf("setup flags %#x, want %#x", r.flags, want)
	}
	a, b := socketpair(t)

	r.PrepRecv(a)
	unix.Write(b, []byte("5\n3\r\n"))
	c := wait(t, r)
	data, ok := r.Buffer(c)
	if c.Op != OpRecv || c.Fd != a || c.Res != 5 || !ok || string(data) != "5\n3\r\n" {
		t.Fatalf("recv: %+v, %q, %v", c, data, ok)
	}
	r.ReturnBuffer(c)

	out := []byte("  --> 0\r\n")
	r.PrepSend(a, out)
	if c := wait(t, r); c.Op != OpSend || c.Fd != a || c.Res != int32(len(out)) {
		t.Fatalf("send: %+v", c)
	}
	got := make([]byte, 64)
	if n, _ := unix.Read(b, got); string(got[:n]) != string(out) {
		t.Fatalf("the peer read %q", got[:n])
	}

	pr, pw, err := sock.Pipe() // non-blocking, as the loops' wake pipes: the read waits all the same
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pr)
	defer unix.Close(pw)
	var wake [8]byte
	r.PrepRead(pr, wake[:])
	r.PrepRecv(a)
	if err := r.Enter(false, 0); err != nil {
		t.Fatal(err)
	}
	if c, ok := r.Reap(); ok {
		t.Fatalf("a read of an empty pipe or socket completed: %+v", c)
	}
	unix.Write(pw, []byte{0})
	if c := wait(t, r); c.Op != OpRead || c.Fd != pr || c.Res != 1 {
		t.Fatalf("read: %+v", c)
	}

	r.PrepCancel(a)
	seen := map[uint8]Completion{}
	for len(seen) < 2 {
		c := wait(t, r)
		seen[c.Op] = c
	}
	if c := seen[OpRecv]; c.Fd != a || c.Errno() != unix.ECANCELED || !errors.Is(c.Err(), unix.ECANCELED) || !strings.HasPrefix(c.Err().Error(), "IORING_OP_RECV: ") {
		t.Fatalf("the cancelled recv: %+v, %v", c, c.Err())
	}
	if c := seen[OpAsyncCancel]; c.Fd != a || c.Res != 1 {
		t.Fatalf("the cancel: %+v", c)
	}
	if n := r.InFlight(); n != 0 {
		t.Fatalf("%d operations in flight", n)
	}
}

// TestUringBufferRing: receives take the ring's buffers in turn; with
// none left a receive fails with ENOBUFS, and a buffer given back is
// taken again.
func TestUringBufferRing(t *testing.T) {
	r := newTestUring(t, 2, 16)
	a, b := socketpair(t)
	var held []Completion
	for i := 0; i < 3; i++ {
		r.PrepRecv(a)
		unix.Write(b, []byte{'a' + byte(i)})
		c := wait(t, r)
		if i < 2 {
			data, ok := r.Buffer(c)
			if !ok || string(data) != string(rune('a'+i)) {
				t.Fatalf("recv %d: %+v %q", i, c, data)
			}
			held = append(held, c)
			continue
		}
		if c.Errno() != unix.ENOBUFS {
			t.Fatalf("with every buffer held: %+v", c)
		}
	}
	r.ReturnBuffer(held[0])
	r.PrepRecv(a)
	c := wait(t, r)
	if data, ok := r.Buffer(c); !ok || string(data) != "c" || c.Flags>>cqeBufferShift != held[0].Flags>>cqeBufferShift {
		t.Fatalf("after a buffer came back: %+v %q", c, data)
	}
}

// TestUringRefused: where the kernel refuses io_uring_setup, New
// says why, in a *RefusedError; other failures are not refusals.
func TestUringRefused(t *testing.T) {
	realSetup, realRead := ioUringSetup, readSysFile
	defer func() { ioUringSetup, readSysFile = realSetup, realRead }()
	cases := []struct {
		errno   unix.Errno
		files   map[string]string
		refused bool
		want    string
	}{
		{unix.EPERM, map[string]string{"/proc/sys/kernel/io_uring_disabled": "2"}, true,
			"io_uring_setup: operation not permitted (/proc/sys/kernel/io_uring_disabled is 2)"},
		{unix.EPERM, map[string]string{"/proc/sys/kernel/io_uring_disabled": "1", "/proc/sys/kernel/io_uring_group": "1234"}, true,
			"io_uring_setup: operation not permitted (/proc/sys/kernel/io_uring_disabled is 1 and this user is not in the group of /proc/sys/kernel/io_uring_group, 1234)"},
		{unix.EPERM, map[string]string{"/proc/sys/kernel/io_uring_disabled": "0", "/proc/self/status": "Name:\tx\nSeccomp:\t2\n"}, true,
			"io_uring_setup: operation not permitted (a seccomp filter forbids it: /proc/self/status says Seccomp: 2)"},
		{unix.ENOSYS, map[string]string{"/proc/self/status": "Seccomp:\t0\n"}, true,
			"io_uring_setup: function not implemented (this kernel has no io_uring: it was built without CONFIG_IO_URING)"},
		{unix.EINVAL, nil, true, "io_uring_setup: invalid argument (needs Linux 5.19 or later; this is Linux "},
		{unix.ENOMEM, nil, false, "io_uring_setup: cannot allocate memory"},
	}
	for _, tc := range cases {
		calls := 0
		ioUringSetup = func(uint32, *setupParams) (int, error) { calls++; return -1, tc.errno }
		readSysFile = func(path string) string { return tc.files[path] }
		_, err := New(8, 2, 16)
		var refused *RefusedError
		if errors.As(err, &refused) != tc.refused || err == nil || !strings.HasPrefix(err.Error(), tc.want) || !errors.Is(err, tc.errno) {
			t.Errorf("%v: %v (refused %v); want %q, refused %v", tc.errno, err, refused != nil, tc.want, tc.refused)
		}
		if want := map[bool]int{true: len(setupFlags), false: 1}[tc.errno == unix.EINVAL]; calls != want {
			t.Errorf("%v: %d calls of io_uring_setup, want %d", tc.errno, calls, want)
		}
	}
}

// TestUringIdleWaitSleeps: a ring waiting raw with nothing to do is
// interrupted by the runtime's preemption once, then waits the
// scheduler's way until its completion, not woken every 10 ms (its
// io_uring_enter calls, counted in the trace).
func TestUringIdleWaitSleeps(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	r := newTestUring(t, 8, 64)
	if !r.WaitRaw() {
		t.Fatal("GOMAXPROCS 2: no raw wait")
	}
	pr, pw, err := sock.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close(pr)
	defer sock.Close(pw)
	var b [1]byte
	r.PrepRead(pr, b[:])
	var trace strings.Builder
	strace.Enable(&trace, 32, false)
	defer func() { strace.Out = nil }()
	go func() {
		time.Sleep(300 * time.Millisecond) // the idle time, not a synchronisation
		unix.Write(pw, []byte{1})
	}()
	wait(t, r)
	strace.Out = nil
	// Woken every 10 ms, the ring would be entered about 30 times.
	if n := strings.Count(trace.String(), "io_uring_enter("); n > 5 {
		t.Fatalf("%d io_uring_enter calls in 300 ms of waiting:\n%s", n, trace.String())
	}
}

// TestUringFullQueue: an operation queued on a full SQ submits the queue
// first. EBUSY from that submit (the kernel holds completions the full
// CQ has no room for) is retried once the CQEs there are are taken out
// of the way, which Reap returns first, in order; a queue the kernel
// still does not take is an error that names the operation left out,
// for Enter to report, after a bounded number of tries; nothing is lost
// silently.
func TestUringFullQueue(t *testing.T) {
	real := enterFault
	defer func() { enterFault = real }()
	cases := []struct {
		name  string
		fault func(call int) (unix.Errno, bool)
		calls int    // io_uring_enter calls of the submit
		err   string // what Enter says then
	}{
		{"EBUSY once", func(call int) (unix.Errno, bool) { return unix.EBUSY, call == 1 }, 2, ""},
		{"EBUSY", func(int) (unix.Errno, bool) { return unix.EBUSY, true }, submitTries + 1,
			"IORING_OP_SEND on fd %d not queued: io_uring_enter: device or resource busy"},
		{"none taken", func(int) (unix.Errno, bool) { return 0, true }, 1,
			"IORING_OP_SEND on fd %d not queued: io_uring_enter: the kernel took no SQE of a full queue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestUring(t, 8, 64)
			a, peerA := socketpair(t)
			b, peerB := socketpair(t)
			n := len(r.sqes)
			data := []byte("abcdefghijklmnopqrstuvwxyz")
			for i := 0; i < n; i++ { // sends on a that complete at once, left in the CQ
				r.PrepSend(a, data[i:i+1])
			}
			if err := r.Enter(false, 0); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ { // the queue full again, with sends on b
				r.PrepSend(b, data[i:i+1])
			}
			calls := 0
			enterFault = func() (unix.Errno, bool) { calls++; return tc.fault(calls) }
			r.PrepSend(b, data[n:n+1])
			enterFault = real
			err := r.Enter(false, 0)
			want := ""
			if tc.err != "" {
				want = fmt.Sprintf(tc.err, b)
			}
			if got := fmt.Sprint(err); calls != tc.calls || (want == "" && err != nil) || (want != "" && got != want) {
				t.Fatalf("%d io_uring_enter calls of the submit, then Enter: %v; want %d and %q", calls, err, tc.calls, want)
			}
			if err != nil {
				if err := r.Enter(false, 0); err != nil { // what was queued goes now
					t.Fatal(err)
				}
			}
			// Every operation queued completes: a's first, in order.
			sent := n
			if want == "" {
				sent++
			}
			for i := 0; i < n+sent; i++ {
				c := wait(t, r)
				if fd := map[bool]int{true: a, false: b}[i < n]; c.Op != OpSend || c.Fd != fd || c.Res != 1 {
					t.Fatalf("completion %d: %+v; want a send of 1 byte on fd %d", i, c, fd)
				}
			}
			if c, ok := r.Reap(); ok || r.InFlight() != 0 {
				t.Fatalf("after every send: %+v, %d in flight", c, r.InFlight())
			}
			got := make([]byte, 64)
			if m, _ := unix.Read(peerA, got); string(got[:m]) != string(data[:n]) {
				t.Fatalf("a's peer read %q", got[:m])
			}
			if m, _ := unix.Read(peerB, got); string(got[:m]) != string(data[:sent]) {
				t.Fatalf("b's peer read %q", got[:m])
			}
		})
	}
}
