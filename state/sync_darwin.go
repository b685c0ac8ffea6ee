package state

import "golang.org/x/sys/unix"

// datasyncCall is what datasync's errors call it.
const datasyncCall = "fcntl(F_FULLFSYNC)"

// fdatasync is fcntl(F_FULLFSYNC) on macOS: its fsync only hands the data
// to the drive, whose cache may still lose it; F_FULLFSYNC asks the drive
// to write its cache out too. macOS has no fdatasync.
func fdatasync(fd int) error {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_FULLFSYNC, 0)
	return err
}
