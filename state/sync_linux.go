package state

import "golang.org/x/sys/unix"

// datasyncCall is what datasync's errors call it.
const datasyncCall = "fdatasync"

// fdatasync writes fd's data, and the metadata needed to read it back
// (its size, not its times), to the disk, and waits until the disk says
// they are there.
func fdatasync(fd int) error { return unix.Fdatasync(fd) }
