package client

import "golang.org/x/sys/unix"

// IsTerminal says whether fd is a terminal: ioctl(fd, TCGETS).
func IsTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
