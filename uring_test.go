package main

import (
	"errors"
	"testing"

	"fetchadd/sock"
)

// skipRefused skips a test of the uring mode where the system refuses
// io_uring (err, from server.Listen or server.CheckUring, wraps a
// *sock.UringRefusedError, which names the reason), and only there.
func skipRefused(t *testing.T, err error) {
	t.Helper()
	var refused *sock.UringRefusedError
	if errors.As(err, &refused) {
		t.Skipf("io_uring is refused here: %v", err)
	}
}
