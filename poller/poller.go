// Package poller is readiness for an event loop, as redis's ae.c has it:
// one interface, Poller, and a file per backend on sock's traced calls:
// epoll_linux.go (epoll_create1, epoll_ctl, epoll_wait), kqueue_bsd.go
// (kqueue, kevent) and poll.go (poll, portable).
package poller

// Event is what a Poller reports for one descriptor. An error or hang-up
// on the descriptor sets both Read and Write, so that whichever the caller
// does next, its read or write meets the condition and reports it.
type Event struct {
	Fd    int
	Read  bool // a read will not block: data, end of stream, or an error
	Write bool // a write will not block: buffer space, or an error
}

// Poller waits for readiness on many descriptors at once: the system call
// behind an event loop. NewEvent gives the OS's own (epoll on Linux,
// kqueue on macOS and FreeBSD), NewPoll the portable poll(2). Every
// Poller is level-triggered: a descriptor is reported for as long as it is
// ready, not only when it becomes so. Pollers are not safe for concurrent
// use; each event loop has its own.
type Poller interface {
	// Add starts watching fd, for reading and/or writing.
	Add(fd int, read, write bool) error
	// Modify changes what fd is watched for.
	Modify(fd int, read, write bool) error
	// Remove stops watching fd. Call it before closing fd.
	Remove(fd int) error
	// Wait waits until some watched descriptor is ready or timeout
	// milliseconds pass (-1: no limit) and returns the ready ones. The
	// slice is the poller's, valid until the next Wait. A wait that a
	// signal interrupts returns no events and no error: the Go runtime
	// interrupts its threads every few milliseconds to preempt them.
	Wait(timeout int) ([]Event, error)
	// WaitRaw asks that Wait block as a raw system call, keeping the
	// thread's P (package rawwait), and says whether it will: epoll only, and only
	// while fewer than GOMAXPROCS-1 pollers of the program do.
	WaitRaw() bool
	// Name is the system call it waits with, for messages.
	Name() string
	// Close releases the poller's descriptor, if it has one.
	Close() error
}

// maxEvents is how many ready descriptors one Wait of epoll or kqueue
// returns at most; the rest come with the next Wait.
const maxEvents = 256

// blockingWait is the WaitRaw of the pollers that always tell the
// scheduler when they wait: poll(2), and kqueue.
type blockingWait struct{}

// WaitRaw: no.
func (blockingWait) WaitRaw() bool { return false }
