package state

import (
	"errors"

	"golang.org/x/sys/unix"
)

// renameNew renames from to to, failing with EEXIST if to exists:
// renamex_np with RENAME_EXCL; where the file system has no such rename
// (ENOTSUP), link then unlink (linkNew).
func renameNew(from, to string) error {
	err := retry(func() error { return unix.RenamexNp(from, to, unix.RENAME_EXCL) })
	if errors.Is(err, unix.ENOTSUP) {
		return linkNew(from, to)
	}
	return wrap("renamex_np", err)
}
