package state

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ErrReplaced is what every commit fails with once the file the server
// opened is no longer the one at its path: removed (rm, or rm -rf of its
// directory), replaced (mv of another file over it), or moved with its
// directory (the working directory too, for a relative path). What is written
// to it then is written to a file nobody will read, and the next server
// would hand out the values again: the server refuses every add until it
// is restarted, and reads what is at the path then.
var ErrReplaced = errors.New("the state file was removed or replaced while the server ran")

// moved says what became of the file open as fd, which had the name
// path: "" if path still names it (the same device and inode: a name is
// left, so its link count is not 0 either), else what happened. err: it
// could not tell.
func moved(fd int, path string) (how string, err error) {
	var open, named unix.Stat_t
	if err := fstat(fd, &open); err != nil {
		return "", err
	}
	err = stat(path, &named)
	switch {
	case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR):
		return fmt.Sprintf("%s no longer exists", path), nil
	case err != nil:
		return "", err
	case named.Dev != open.Dev || named.Ino != open.Ino:
		return fmt.Sprintf("%s now names another file", path), nil
	}
	return "", nil
}

// stillThere fails if the file is no longer the one at its path, and
// from then on (ErrReplaced).
func (f *File) stillThere() error {
	if f.replaced != nil {
		return f.replaced
	}
	how, err := moved(f.fd, f.abs)
	if err != nil || how == "" {
		return err
	}
	f.replaced = fmt.Errorf("%w (%s): every add is refused until the server is restarted", ErrReplaced, how)
	return f.replaced
}
