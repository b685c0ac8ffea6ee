package uring

// RefusedError says that io_uring cannot be had here, and why: the
// system lacks it (not Linux, a kernel before 5.19, built without it) or
// forbids it (kernel.io_uring_disabled, a seccomp filter, a security
// module). It is not a failure such as running out of memory: the same
// program will not get io_uring by trying again, and should use another
// mode. New returns it.
type RefusedError struct {
	Err    error  // the call that failed: "io_uring_setup: operation not permitted"
	Reason string // why, as far as the system says: "/proc/sys/kernel/io_uring_disabled is 2"
}

func (e *RefusedError) Error() string { return e.Err.Error() + " (" + e.Reason + ")" }

// Unwrap returns the call's error, so that errors.Is finds its errno.
func (e *RefusedError) Unwrap() error { return e.Err }
