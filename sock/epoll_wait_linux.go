//go:build linux && !arm64 && !loong64 && !riscv64

package sock

import "golang.org/x/sys/unix"

// The epoll wait of this architecture: epoll_wait, as x/sys's EpollWait
// makes it here; the raw Wait makes the same call (rawwait).
const (
	epollWaitTrap = unix.SYS_EPOLL_WAIT
	epollWaitCall = "epoll_wait"
)
