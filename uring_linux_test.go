package main

// The uring mode as a user meets it on a system that refuses io_uring,
// and its -trace.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"fetchadd/server"

	"golang.org/x/sys/unix"
)

// A child started with FETCHADD_DENY_IO_URING=io_uring_setup (or
// io_uring_enter, io_uring_register) runs under a seccomp filter that
// makes that system call fail with EPERM, as a container's policy does
// (Docker's default one forbids all three, for instance). init runs
// before TestMain: the filter is on before the program starts.
func init() {
	if call, ok := ioUringCalls[os.Getenv("FETCHADD_DENY_IO_URING")]; ok && os.Getenv("FETCHADD_MAIN") == "1" {
		if err := denyIoUring(call); err != nil {
			fmt.Fprintln(os.Stderr, "seccomp:", err)
			os.Exit(3)
		}
	}
}

// ioUringCalls are the system calls of io_uring, by name.
var ioUringCalls = map[string]uint32{
	"io_uring_setup":    unix.SYS_IO_URING_SETUP,
	"io_uring_enter":    unix.SYS_IO_URING_ENTER,
	"io_uring_register": unix.SYS_IO_URING_REGISTER,
}

// denyIoUring puts on every thread of the process a seccomp filter that
// fails the system call numbered call with EPERM and lets every other
// call through.
func denyIoUring(call uint32) error {
	runtime.LockOSThread() // prctl and seccomp act on the calling thread
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // the system call's number
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: call},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return errno
	}
	return nil
}

// TestUringRefused: where the system refuses io_uring (here a seccomp
// filter that forbids one of its three calls), serve -mode uring says
// which call failed, why, and which mode to use instead, in one line,
// and exits with status 2, without listening.
func TestUringRefused(t *testing.T) {
	for _, call := range []string{"io_uring_setup", "io_uring_enter", "io_uring_register"} {
		t.Run(call, func(t *testing.T) {
			cmd := command("serve", "-mode", "uring", "-addr", "127.0.0.1:0")
			cmd.Env = append(cmd.Env, "FETCHADD_DENY_IO_URING="+call)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the server did not fail: %v; stderr %q", err, stderr.String())
			}
			// The reason: the filter, unless this kernel refuses io_uring
			// by its own sysctl, which io_uring_setup meets first.
			out := stderr.String()
			want := "fetchadd serve: -mode uring: " + call + ": operation not permitted (a seccomp filter forbids it: /proc/self/status says Seccomp: 2); use -mode event\n"
			if b, _ := os.ReadFile("/proc/sys/kernel/io_uring_disabled"); len(b) > 0 && b[0] != '0' {
				start := "fetchadd serve: -mode uring: io_uring_setup: operation not permitted (/proc/sys/kernel/io_uring_disabled is "
				if strings.HasPrefix(out, start) && strings.HasSuffix(out, "); use -mode event\n") {
					want = out
				}
			}
			if status := exit.ExitCode(); status != 2 || out != want || strings.Count(out, "\n") != 1 {
				t.Fatalf("status %d, stderr %q; want 2 and %q", status, out, want)
			}
		})
	}
}

// TestUringTrace: -trace shows the operations of a uring server's
// session, each when it is queued and when it completes, with its
// descriptor and its result: the multishot accept on the listening
// socket giving each connection's descriptor, the receives on it with
// the bytes and the end of the stream, the send of the replies, then
// the close.
func TestUringTrace(t *testing.T) {
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip("needs /proc")
	}
	skipRefused(t, server.CheckUring())
	traced := tracedServer(t, server.Uring)
	at := 0 // each line is looked for after the last one found
	find := func(pattern string) []string {
		t.Helper()
		re := regexp.MustCompile(`^(?:\[pid +\d+\] )?` + pattern + `$`)
		for i := at; i < len(traced); i++ {
			if m := re.FindStringSubmatch(traced[i]); m != nil {
				at = i + 1
				return m
			}
		}
		t.Fatalf("no line matching %s after line %d of the trace:\n%s", pattern, at, strings.Join(traced, "\n"))
		return nil
	}
	lfd := find(`listen\((\d+), 4096\) += 0`)[1]
	find(`IORING_OP_ACCEPT\(fd=` + lfd + `, flags=SOCK_CLOEXEC, IORING_ACCEPT_MULTISHOT\) <unfinished \.\.\.>`)
	find(`io_uring_enter\(\d+, [1-9]\d*, 1, IORING_ENTER_GETEVENTS, NULL, 0\) += [1-9]\d*`)
	for _, c := range []struct{ data, n, replies, sent string }{
		{`"5\\n3\\r\\nx\\n"`, "7", `"  --> 0\\r\\n  --> 5\\r\\n!!!!\\r\\n", len=24`, "24"},
		{`"7"`, "1", `"  --> 8\\r\\n", len=9`, "9"},
	} {
		fd := find(`IORING_OP_ACCEPT\(fd=` + lfd + `, flags=SOCK_CLOEXEC, IORING_ACCEPT_MULTISHOT\) += (\d+) \(IORING_CQE_F_MORE\)`)[1]
		find(`getsockopt\(` + fd + `, SOL_SOCKET, SO_PEERNAME, ".*", \[16\]\) += 0`)
		recv := `IORING_OP_RECV\(fd=` + fd + `, len=4096, IOSQE_BUFFER_SELECT, buf_group=0\)`
		find(recv + ` <unfinished \.\.\.>`)
		find(recv + ` += ` + c.n + ` \(buf_id=\d+, ` + c.data + `\)`)
		from := at
		find(`IORING_OP_SEND\(fd=` + fd + `, ` + c.replies + `, flags=MSG_NOSIGNAL\) += ` + c.sent)
		at = from // the end of the stream may come before the send's completion
		find(recv + ` += 0`)
		find(`close\(` + fd + `\) += 0`)
	}
}
