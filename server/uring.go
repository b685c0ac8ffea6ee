package server

import (
	"errors"
	"fmt"
	"runtime"

	"fetchadd/uring"
)

// CheckUring says whether the uring mode can run here: nil, or the error
// Listen refuses it with. It makes a small ring, enters it once (submit
// nothing, wait for nothing) and closes it (on a thread of its own, as
// uring.New wants), so that a system that refuses io_uring, or one
// of its three calls (a seccomp filter can forbid any of them), is known
// before the server listens. Where the system refuses io_uring, the
// error wraps a *uring.RefusedError and names the mode to use
// instead.
func CheckUring() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := uring.New(8, 8, 4096)
	if err == nil {
		if err = r.CheckEnter(); err != nil {
			r.Close()
		}
	}
	var refused *uring.RefusedError
	switch {
	case errors.As(err, &refused):
		return fmt.Errorf("-mode %s: %w; use -mode %s", Uring, err, Event)
	case err != nil:
		return fmt.Errorf("-mode %s: %w", Uring, err)
	}
	return r.Close()
}
