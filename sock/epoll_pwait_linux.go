//go:build linux && (arm64 || loong64 || riscv64)

package sock

import "golang.org/x/sys/unix"

// The epoll wait of this architecture, whose kernel has no epoll_wait:
// epoll_pwait with no signal mask (NULL, size 0), as x/sys's EpollWait
// makes it here; the raw Wait makes the same call (rawwait).
const (
	epollWaitTrap = unix.SYS_EPOLL_PWAIT
	epollWaitCall = "epoll_pwait"
)
