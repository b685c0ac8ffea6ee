//go:build darwin || freebsd

package client

import "golang.org/x/sys/unix"

// IsTerminal says whether fd is a terminal: ioctl(fd, TIOCGETA).
func IsTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TIOCGETA)
	return err == nil
}
