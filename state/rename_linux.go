package state

import (
	"errors"

	"golang.org/x/sys/unix"
)

// renameNew renames from to to, failing with EEXIST if to exists:
// renameat2 with RENAME_NOREPLACE; where the file system has no such
// rename (NFS: EINVAL), link then unlink (linkNew).
func renameNew(from, to string) error {
	err := retry(func() error { return unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE) })
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return linkNew(from, to)
	}
	return wrap("renameat2", err)
}
