//go:build linux && !amd64

package sock

import "golang.org/x/sys/unix"

// epollWaitTrap is the system call a raw epoll Wait makes: epoll_pwait
// with no signal mask (the fifth argument, 0), which every Linux port
// has; x/sys's EpollWait makes it too where there is no epoll_wait.
const epollWaitTrap = unix.SYS_EPOLL_PWAIT
