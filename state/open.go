package state

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"fetchadd/fetchadd"

	"golang.org/x/sys/unix"
)

// Open reads the counter saved in the state file at path and returns the
// file, ready for Start, and the value. A file that does not exist is
// created, holding 0. A file that is damaged, cut short or not a state
// file is refused, with an error that names it and says what is wrong,
// and is left as it was; reset says to write 0 over it instead. A file
// the process may read but not write is opened all the same: its value
// is served, and every commit fails, so every add is refused.
func Open(path string, reset bool, logger *log.Logger) (*File, fetchadd.Number, error) {
	f := &File{path: path, logger: logger, fd: -1}
	if reset {
		if err := f.create(fetchadd.Int(0)); err != nil {
			return nil, fetchadd.Number{}, f.wrap(err)
		}
		logger.Printf("state: %s: reset to 0", path)
		return f, fetchadd.Int(0), nil
	}
	fd, err := open(path, unix.O_RDWR)
	switch {
	case errors.Is(err, unix.ENOENT):
		if err := f.create(fetchadd.Int(0)); err != nil {
			return nil, fetchadd.Number{}, f.wrap(err)
		}
		logger.Printf("state: %s: created, holding 0", path)
		return f, fetchadd.Int(0), nil
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EROFS), errors.Is(err, unix.EPERM):
		f.readOnly = fmt.Errorf("state file %s is read-only: %w", path, err)
		if fd, err = open(path, unix.O_RDONLY); err != nil {
			return nil, fetchadd.Number{}, f.wrap(err)
		}
	case err != nil:
		return nil, fetchadd.Number{}, f.wrap(err)
	}
	f.fd = fd
	value, err := f.load()
	if err != nil {
		unix.Close(fd)
		return nil, fetchadd.Number{}, err
	}
	if f.readOnly != nil {
		logger.Printf("state: %v: every add will be refused", f.readOnly)
	}
	return f, value, nil
}

// wrap says that err is about the file: "state file PATH: ...".
func (f *File) wrap(err error) error {
	return fmt.Errorf("state file %s: %w", f.path, err)
}

// errorf is an error about the file: "state file PATH: ...".
func (f *File) errorf(format string, args ...any) error {
	return fmt.Errorf("state file %s: %s", f.path, fmt.Sprintf(format, args...))
}

// load reads both slots and takes the newer good one. One slot may be torn
// by a crash in the middle of its write, a write no client was answered
// for; any other fault refuses the file.
func (f *File) load() (fetchadd.Number, error) {
	var st unix.Stat_t
	if err := fstat(f.fd, &st); err != nil {
		return fetchadd.Number{}, f.wrap(err)
	}
	b := make([]byte, st.Size)
	if n, err := pread(f.fd, b, 0); err != nil || n < len(b) {
		return fetchadd.Number{}, f.errorf("read %d of %d bytes: %v", n, len(b), err)
	}
	first := readSlot(b)
	if first.problem == "no FETCHADD header" || first.problem == "too short" {
		if len(b) < pageSize || readSlot(b[pageSize:]).problem == "no FETCHADD header" && readSlot(b[len(b)/2:]).problem == "no FETCHADD header" {
			return fetchadd.Number{}, f.errorf("not a fetchadd state file (%d bytes, no FETCHADD header); move it away, or give another -state", len(b))
		}
	}
	size := first.slotSize
	if !first.ok && !first.torn {
		size = int(st.Size / 2) // slot 0 unreadable: half the file, as slot 1 says below
	}
	if size < pageSize || size%pageSize != 0 || int64(2*size) != st.Size {
		return fetchadd.Number{}, f.errorf("cut short or damaged: %d bytes, want two slots of %d", st.Size, size)
	}
	slots := [2]slot{readSlot(b[:size]), readSlot(b[size:])}
	for i, s := range slots {
		if s.ok && (s.seq%2 != uint64(i) || s.slotSize != size) {
			s.ok, s.problem = false, fmt.Sprintf("commit %d of slot size %d does not belong there", s.seq, s.slotSize)
		}
		if !s.ok && !s.torn {
			return fetchadd.Number{}, f.errorf("damaged: slot %d: %s; left as it is (-state-reset starts over at 0)", i, s.problem)
		}
	}
	newer := 0
	switch {
	case slots[0].ok && slots[1].ok:
		if slots[1].seq > slots[0].seq {
			newer = 1
		}
	case slots[1].ok:
		newer = 1
	case !slots[0].ok:
		return fetchadd.Number{}, f.errorf("damaged: neither slot holds a good record; left as it is (-state-reset starts over at 0)")
	}
	if other := slots[1-newer]; other.torn {
		f.logger.Printf("state: %s: slot %d was cut short by a crash in the middle of a commit, which no client was answered for; using slot %d", f.path, 1-newer, newer)
	}
	f.slotSize, f.seq = size, slots[newer].seq
	return slots[newer].value, nil
}

// create writes a new state file holding value and makes it the file at
// path: written and synced under a temporary name, renamed over path, and
// the directory synced so that the new name is on disk too.
func (f *File) create(value fetchadd.Number) error {
	tmp := f.path + ".tmp"
	fd, err := open(tmp, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC)
	if err != nil {
		return err
	}
	// Both slots hold value, the newer as commit f.seq+1, each in the
	// slot its number says (seq%2).
	b := make([]byte, 2*slotSize)
	for seq := f.seq; seq <= f.seq+1; seq++ {
		at := int(seq%2) * slotSize
		record(b[at:at], seq, slotSize, value)
	}
	if _, err = pwrite(fd, b, 0); err == nil {
		err = datasync(fd)
	}
	if err == nil {
		err = rename(tmp, f.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(f.path))
	}
	if err != nil {
		unix.Close(fd)
		os.Remove(tmp)
		return err
	}
	if f.fd >= 0 {
		unix.Close(f.fd)
	}
	f.fd, f.slotSize, f.seq = fd, slotSize, f.seq+1
	return nil
}
