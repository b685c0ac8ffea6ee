package bench

import (
	"strings"
	"testing"
	"time"

	"fetchadd/internal/testnet"

	"golang.org/x/sys/unix"
)

// TestFullBacklog: a server whose listen backlog is full drops the
// handshakes (Linux); the run's connect gives up within the timeout
// instead of the kernel's minutes of SYNs.
func TestFullBacklog(t *testing.T) {
	cfg := Config{Addr: testnet.FullBacklog(t), Conns: 2, Duration: time.Minute, Timeout: 300 * time.Millisecond}
	_, err := runWithin(t, cfg, cfg.Timeout+slack)
	if err == nil || !strings.Contains(err.Error(), unix.ETIMEDOUT.Error()) {
		t.Fatalf("Run: %v, want the connect timed out", err)
	}
}
