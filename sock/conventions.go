package sock

import (
	"os"

	"golang.org/x/sys/unix"
)

// The conventions every wrapper follows (see the package doc), written
// once: an error names its call, EINTR is retried, and a failed read or
// write counts no bytes.

// wrap names the call in err, as os.NewSyscallError does; nil stays nil.
func wrap(call string, err error) error {
	if err == nil {
		return nil
	}
	return os.NewSyscallError(call, err)
}

// retry calls f until it does not fail with EINTR, as Go's internal/poll
// does for the calls that may be interrupted.
func retry(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}

// count is a read or write's result: x/sys returns n == -1 with an error,
// and callers slice with n, so it becomes 0.
func count(n int, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	return n, nil
}
