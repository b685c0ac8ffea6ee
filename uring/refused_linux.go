package uring

import (
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Why the kernel refuses io_uring: each refusal of a call becomes a
// *RefusedError with the reason this system gives.

// setupRefused turns io_uring_setup's error into a *RefusedError
// when it means the system refuses io_uring, with the reason it can find;
// other errors (out of memory, of descriptors) stay as they are.
func setupRefused(err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return &RefusedError{Err: err, Reason: whyNotPermitted()}
	case errors.Is(err, unix.ENOSYS):
		if seccomp() {
			return &RefusedError{Err: err, Reason: "a seccomp filter hides it: /proc/self/status says Seccomp: 2"}
		}
		return &RefusedError{Err: err, Reason: "this kernel has no io_uring: it was built without CONFIG_IO_URING"}
	case errors.Is(err, unix.EINVAL):
		return &RefusedError{Err: err, Reason: "needs Linux 5.19 or later; this is " + kernelRelease()}
	}
	return err
}

// callRefused turns the error of a call on a ring the kernel has made
// (io_uring_register, io_uring_enter) into a *RefusedError when the
// system forbids the call, as a seccomp filter can forbid one and not
// io_uring_setup, with the reason io_uring_setup's refusal would give;
// other errors stay as they are.
func callRefused(err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return &RefusedError{Err: err, Reason: whyNotPermitted()}
	case errors.Is(err, unix.ENOSYS) && seccomp():
		return &RefusedError{Err: err, Reason: "a seccomp filter hides it: /proc/self/status says Seccomp: 2"}
	}
	return err
}

// whyNotPermitted says why io_uring_setup was not permitted: the sysctl
// that switches io_uring off (6.6), a seccomp filter, or else some other
// security policy.
func whyNotPermitted() string {
	disabled := readSysFile("/proc/sys/kernel/io_uring_disabled")
	switch disabled {
	case "2":
		return "/proc/sys/kernel/io_uring_disabled is 2"
	case "1":
		return "/proc/sys/kernel/io_uring_disabled is 1 and this user is not in the group of /proc/sys/kernel/io_uring_group, " + readSysFile("/proc/sys/kernel/io_uring_group")
	}
	if seccomp() {
		return "a seccomp filter forbids it: /proc/self/status says Seccomp: 2"
	}
	return "a security policy forbids it"
}

// seccomp says whether a seccomp filter is on this process.
func seccomp() bool {
	for _, line := range strings.Split(readSysFile("/proc/self/status"), "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
			return strings.TrimSpace(v) == "2"
		}
	}
	return false
}

// readSysFile is a /proc file's contents without the last newline, or ""
// if it cannot be read. A variable: tests pretend other systems.
var readSysFile = func(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// kernelRelease is uname -r.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "an unknown kernel"
	}
	return "Linux " + unix.ByteSliceToString(u.Release[:])
}
