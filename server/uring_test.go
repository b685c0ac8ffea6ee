package server

import (
	"errors"
	"testing"

	"fetchadd/uring"
)

// skipRefused skips a test of the uring mode where the system refuses
// io_uring (err, from Listen or CheckUring, wraps a
// *uring.RefusedError, which names the reason), and only there.
func skipRefused(t testing.TB, err error) {
	t.Helper()
	var refused *uring.RefusedError
	if errors.As(err, &refused) {
		t.Skipf("io_uring is refused here: %v", err)
	}
}
