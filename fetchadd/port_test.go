package fetchadd

import (
	"strconv"
	"strings"
	"testing"
)

// TestDefaultAddrPort: the default address is on the default port.
func TestDefaultAddrPort(t *testing.T) {
	if !strings.HasSuffix(DefaultAddr, ":"+strconv.Itoa(DefaultPort)) {
		t.Errorf("DefaultAddr %q is not on DefaultPort %d", DefaultAddr, DefaultPort)
	}
}
