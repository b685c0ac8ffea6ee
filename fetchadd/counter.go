package fetchadd

import "sync"

// Counter is the fetch-and-add cell: Add returns the value before the add.
// It is safe for concurrent use; every Add is atomic, so the values handed
// out are the ones some serial order of the adds would give.
type Counter struct {
	mu      sync.Mutex
	v       Number
	version uint64 // how many adds it has made: a later version has them all
}

// Add adds d and returns the value the counter had before.
func (c *Counter) Add(d Number) (old Number) {
	c.mu.Lock()
	old = c.addLocked(d)
	c.mu.Unlock()
	return old
}

// addLocked is Add for a caller that holds c.mu: a Session takes the lock
// once for all the lines of a read, which then take effect together.
func (c *Counter) addLocked(d Number) (old Number) {
	old = c.v
	c.v = old.Add(d)
	c.version++
	return old
}

// Set gives the counter the value v, read back from storage, before any
// Add.
func (c *Counter) Set(v Number) {
	c.mu.Lock()
	c.v = v
	c.mu.Unlock()
}

// Reset gives the counter the value v, read again from storage in place
// of a value no longer trusted (another server may have moved it), and
// returns the version of the adds made before, which were made on the
// value dropped. The version goes on counting.
func (c *Counter) Reset(v Number) (version uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.v = v
	return c.version
}

// Version is the number of adds made so far. A server that saves the
// counter waits until the saved value is of this version or a later one,
// which holds every add made before.
func (c *Counter) Version() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// Snapshot returns the counter's value and its version, together.
func (c *Counter) Snapshot() (Number, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.v, c.version
}

// Value returns the counter's value now.
func (c *Counter) Value() Number {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.v
}
