package sock

import "golang.org/x/sys/unix"

// epollWaitTrap is the system call a raw epoll Wait makes: epoll_wait.
const epollWaitTrap = unix.SYS_EPOLL_WAIT
