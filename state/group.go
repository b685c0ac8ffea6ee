package state

import (
	"errors"
	"fmt"
	"log"
	"sync"

	"fetchadd/fetchadd"
)

// Group commits a server's counter to its Store in groups: one caller at
// a time, the first that finds no commit under way, commits the counter
// as it is, while the event loops and connections that want their adds
// saved wait; when the commit returns, every add made before the counter
// was read is durable, and they all go on. One commit serves all the adds
// made meanwhile, by every loop.
//
// After a failure that wraps ErrStale the counter in memory is dropped:
// the next caller loads it from the store (Store.Load) and gives it to the
// counter (reset) before it commits again. Every add made before that was
// made on the dropped counter, and is refused, whenever its caller asks:
// values may be skipped, never handed out twice.
type Group struct {
	store  Store
	name   string // the store, for the log
	logger *log.Logger

	mu         sync.Mutex
	cond       sync.Cond
	snapshot   func() (fetchadd.Number, uint64) // the counter and its version
	reset      func(fetchadd.Number) uint64     // gives the counter a value loaded; returns the version before
	committing bool                             // a caller is committing or loading
	waiting    int                              // callers of Sync waiting for it
	tried      uint64                           // the version of the last commit tried
	durable    uint64                           // the newest version in the store
	err        error                            // the last commit's failure; nil if it worked
	stale      bool                             // load the counter before the next commit
	lost       []span                           // versions made on a counter since dropped, oldest first
	closed     bool
	commits    int // commits made
}

// NewGroup returns a Group over store, named name in the log. It loads
// the counter before its first commit: a server may start before its
// store can be read (a standby, in fetchadd-etcd).
func NewGroup(store Store, name string, logger *log.Logger) *Group {
	return &Group{store: store, name: name, logger: logger, stale: true}
}

// span is the versions in (from, to], refused with err.
type span struct {
	from, to uint64
	err      error
}

// maxLost bounds the spans a Group keeps: past it the two oldest become
// one, which refuses the adds saved between them too if they ask that
// late (a gap, never a repeat).
const maxLost = 16

// errClosed says the store was closed while an add waited.
var errClosed = errors.New("the state file is closed")

// errLost refuses an add made on a counter since dropped.
var errLost = &Reason{
	Text: "the counter was read again from its store after a failure, and this add was made before that (it did not count)",
	Err:  fmt.Errorf("an add made before the counter was read again: %w", ErrStale),
}

// Start readies the group for Sync. snapshot returns the counter's value
// and its version (the number of adds it holds) at one instant; reset
// gives it a value loaded from the store, and returns the version of the
// adds made before.
func (g *Group) Start(snapshot func() (fetchadd.Number, uint64), reset func(fetchadd.Number) uint64) {
	g.mu.Lock() // Refresh may run already
	defer g.mu.Unlock()
	_, g.durable = snapshot() // what the store held when the counter was set
	g.tried = g.durable
	g.snapshot, g.reset = snapshot, reset
	g.cond.L = &g.mu
}

// Sync waits until the counter of version v (or a later one) is durable,
// and fails if the commit that was to save it failed. The first caller
// that finds no commit under way makes one itself, in its own thread (no
// hand-off to another): it commits the counter as it is then, with every
// add made so far, by any caller. Those who come while it commits wait,
// and the first of them to wake after it makes the next commit for all.
func (g *Group) Sync(v uint64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		if done, err := g.savedLocked(v); done {
			return err
		}
		if g.committing {
			g.waiting++
			g.cond.Wait()
			g.waiting--
			continue
		}
		g.turn()
	}
}

// Refresh drops the counter in memory and loads it from the store now,
// without waiting for an add to ask: fetchadd-etcd calls it when it
// becomes the owner, so that its first adds are made on the value it
// loads (the adds made before, on a counter of an earlier term, are
// refused). Before Start it does nothing: the first Sync loads.
func (g *Group) Refresh() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.snapshot == nil {
		return
	}
	for g.committing {
		g.cond.Wait()
	}
	if !g.closed {
		g.stale = true
		g.turn()
	}
}

// turn makes one commit, or one load if the counter is stale, with g.mu
// held on entry and on return, unlocked meanwhile.
func (g *Group) turn() {
	g.committing = true
	stale := g.stale
	g.mu.Unlock()
	var (
		version uint64
		err     error
		loaded  bool
	)
	if stale {
		version, loaded, err = g.load()
	} else {
		var value fetchadd.Number
		value, version = g.snapshot()
		err = g.store.Commit(value)
	}
	g.mu.Lock()
	g.committing = false
	switch {
	case loaded: // the adds after the last durable one, up to version, were made on the dropped counter
		g.lose(span{g.durable, g.tried, g.err}) // refused already, whenever they ask
		g.lose(span{max(g.durable, g.tried), version, errLost})
		g.stale = false
	case err == nil:
		g.tried, g.err, g.durable = version, nil, version
		g.commits++
	default:
		if g.err == nil || g.err.Error() != err.Error() { // once, not a line a batch
			g.logger.Printf("state: %s: %v; the adds it held were refused", g.name, err)
		}
		if stale && g.err != nil && g.err.Error() != err.Error() { // a load failed: the adds refused before keep their words
			g.lose(span{g.durable, g.tried, g.err})
		}
		g.tried, g.err = version, err
		g.stale = g.stale || (g.reset != nil && errors.Is(err, ErrStale))
	}
	g.cond.Broadcast()
}

// load reads the counter from the store and gives it to the counter: it
// returns the version of the adds made before, which are refused, and
// whether it loaded. If it cannot, every add made so far is refused with
// its failure.
func (g *Group) load() (version uint64, loaded bool, err error) {
	value, err := g.store.Load()
	if err != nil {
		_, version = g.snapshot()
		return version, false, err
	}
	version = g.reset(value)
	g.logger.Printf("state: %s: the counter is %v", g.name, value)
	return version, true, nil
}

// lose notes that the adds of versions in s were made on a dropped
// counter, and are refused with s.err.
func (g *Group) lose(s span) {
	if s.to <= s.from {
		return
	}
	if len(g.lost) == maxLost {
		g.lost[1].from = g.lost[0].from
		g.lost = append(g.lost[:0], g.lost[1:]...)
	}
	g.lost = append(g.lost, s)
}

// Saved says whether the counter of version v is durable (done, err nil),
// or the commit that was to save it failed (done, err), or neither yet.
func (g *Group) Saved(v uint64) (done bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.savedLocked(v)
}

// savedLocked is Saved, with g.mu held. An add made on a counter since
// dropped is refused whenever it asks, even after later commits worked.
func (g *Group) savedLocked(v uint64) (done bool, err error) {
	for _, s := range g.lost {
		if v > s.from && v <= s.to {
			return true, s.err
		}
	}
	switch {
	case g.durable >= v:
		return true, nil
	case g.tried >= v && g.err != nil:
		return true, g.err
	case g.closed:
		return true, errClosed
	}
	return false, nil
}

// Close stops the group: an add still waiting is told the store is
// closed. It waits for a commit under way, and returns how many commits
// were made.
func (g *Group) Close() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	g.cond.Broadcast()
	for g.committing {
		g.cond.Wait()
	}
	return g.commits
}
