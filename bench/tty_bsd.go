//go:build darwin || freebsd

package bench

import "golang.org/x/sys/unix"

// IsTerminal says whether fd is a terminal: ioctl(fd, TIOCGETA).
// main gives the load generator its progress line (Config.Progress)
// only when stderr is one.
func IsTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TIOCGETA)
	return err == nil
}
