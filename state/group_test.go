package state

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"fetchadd/fetchadd"
)

// memStore is a Store in memory, as another server's store may be: what
// it holds may change under the Group (another owner), and its commits and
// loads fail when told to.
type memStore struct {
	mu       sync.Mutex
	value    fetchadd.Number
	commitEr error // Commit fails with it
	loadEr   error // Load fails with it
	loads    int
}

func (m *memStore) Load() (fetchadd.Number, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	return m.value, m.loadEr
}

func (m *memStore) Commit(v fetchadd.Number) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.commitEr != nil {
		return m.commitEr
	}
	m.value = v
	return nil
}

func (m *memStore) set(v int64, commitEr, loadEr error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.value, m.commitEr, m.loadEr = fetchadd.Int(v), commitEr, loadEr
}

// stale is a commit's failure whose outcome leaves the counter in memory
// untrusted, as etcd's store says after a timeout.
var stale = &Reason{Text: "timed out (the add may still count)", Err: fmt.Errorf("etcd: timed out: %w", ErrStale)}

// TestGroupLoads: a Group over a store loads the counter before its first
// commit and after a failure that says the counter is stale; every add
// made on the counter it drops is refused, whenever it asks, and the
// adds after the load go on from the store's value.
func TestGroupLoads(t *testing.T) {
	m := &memStore{value: fetchadd.Int(100)}
	c := &counter{}
	g := NewGroup(m, "mem", quiet)
	g.Start(c.snapshot, c.reset)
	defer g.Close()

	before := c.add(1) // made on 0, before the store was read
	if err := g.Sync(before); !errors.Is(err, ErrStale) {
		t.Fatalf("an add made before the first load: %v, want it refused", err)
	}
	if v := c.v.String(); v != "100" {
		t.Fatalf("after the load the counter is %s, want the store's 100", v)
	}
	saved := c.add(1) // 100 -> 101
	if err := g.Sync(saved); err != nil {
		t.Fatal(err)
	}
	m.set(500, stale, nil) // another owner moved it, and this one's commit times out
	failed := c.add(1)     // 101 -> 102
	if err := g.Sync(failed); !errors.Is(err, ErrStale) || err.(*Reason) != stale {
		t.Fatalf("the commit that timed out: %v, want its own failure", err)
	}
	dropped := c.add(1) // made on the dropped counter, 102 -> 103
	m.set(500, nil, nil)
	if err := g.Sync(dropped); err != errLost {
		t.Fatalf("an add made on the dropped counter: %v, want errLost", err)
	}
	after := c.add(1) // 500 -> 501
	if err := g.Sync(after); err != nil {
		t.Fatal(err)
	}
	if v := m.value.String(); v != "501" {
		t.Fatalf("the store holds %s, want 501: the adds after the load go on from its value", v)
	}
	// Asked late, after a commit worked: still refused, each with its own.
	for _, late := range []struct {
		v    uint64
		want error
	}{{before, errLost}, {failed, stale}, {dropped, errLost}, {saved, nil}, {after, nil}} {
		if done, err := g.Saved(late.v); !done || err != late.want {
			t.Errorf("Saved(%d) late: %v, %v; want %v", late.v, done, err, late.want)
		}
	}
}

// TestGroupLoadFailsAfterCommit: a commit whose outcome is unknown, then
// a load that fails too (etcd down): the commit's adds, asked late, are
// still refused with the commit's failure ("may still count"), not the
// load's ("did not count"), which only the adds made after are told. A
// loop that was answering another connection asks after the next turn.
func TestGroupLoadFailsAfterCommit(t *testing.T) {
	m := &memStore{value: fetchadd.Int(100)}
	c := &counter{}
	g := NewGroup(m, "mem", quiet)
	g.Start(c.snapshot, c.reset)
	defer g.Close()
	if err := g.Sync(c.add(0)); !errors.Is(err, ErrStale) { // the first load
		t.Fatalf("an add made before the first load: %v, want it refused", err)
	}
	m.set(100, stale, nil)
	failed := c.add(1)
	if err := g.Sync(failed); err != stale {
		t.Fatalf("the commit that timed out: %v, want its own failure", err)
	}
	down := &Reason{Text: "etcd down (the add did not count)", Err: fmt.Errorf("etcd down: %w", ErrStale)}
	m.set(100, nil, down)
	dropped := c.add(1)
	if err := g.Sync(dropped); err != down {
		t.Fatalf("an add while the load fails: %v, want the load's failure", err)
	}
	if done, err := g.Saved(failed); !done || err != stale {
		t.Errorf("Saved(the commit's add), asked after the failed load: %v, %v; want %v", done, err, stale)
	}
	m.set(100, nil, nil)
	if err := g.Sync(c.add(0)); err != errLost { // made before the load that works
		t.Fatalf("an add made before the load: %v, want errLost", err)
	}
	if err := g.Sync(c.add(1)); err != nil {
		t.Fatal(err)
	}
	for _, late := range []struct {
		v    uint64
		want error
	}{{failed, stale}, {dropped, down}} {
		if done, err := g.Saved(late.v); !done || err != late.want {
			t.Errorf("Saved(%d) after the load worked: %v, %v; want %v", late.v, done, err, late.want)
		}
	}
}

// TestGroupLoadFails: while the store cannot be read (a standby, etcd
// without a quorum) every add is refused with the load's failure, at
// once; a load that works ends it.
func TestGroupLoadFails(t *testing.T) {
	standby := &Reason{Text: "this server is a standby", Err: fmt.Errorf("not the owner: %w", ErrStale)}
	m := &memStore{value: fetchadd.Int(7), loadEr: standby}
	c := &counter{}
	g := NewGroup(m, "mem", quiet)
	g.Start(c.snapshot, c.reset)
	defer g.Close()
	for i := 0; i < 3; i++ {
		if err := g.Sync(c.add(1)); err != standby {
			t.Fatalf("add %d on a standby: %v", i, err)
		}
	}
	m.set(7, nil, nil)
	g.Refresh() // it became the owner
	if err := g.Sync(c.add(1)); err != nil {
		t.Fatalf("the first add after Refresh: %v", err)
	}
	if v := m.value.String(); v != "8" {
		t.Fatalf("the store holds %s, want 8", v)
	}
	if m.loads != 4 {
		t.Fatalf("%d loads, want 4 (one per refused add, one by Refresh)", m.loads)
	}
}

// TestFileKeepsCounter: a state file's failure is not stale: the counter
// in memory goes on, and the next commit saves the refused adds too
// (values skipped, never repeated), without a load.
func TestFileKeepsCounter(t *testing.T) {
	m := &memStore{}
	c := &counter{}
	g := NewGroup(m, "mem", quiet)
	g.Start(c.snapshot, c.reset)
	defer g.Close()
	g.Refresh()
	m.set(0, errors.New("EIO"), nil)
	if err := g.Sync(c.add(5)); err == nil || !strings.Contains(err.Error(), "EIO") {
		t.Fatalf("a failed commit: %v", err)
	}
	m.set(0, nil, nil)
	if err := g.Sync(c.add(1)); err != nil {
		t.Fatal(err)
	}
	if v := m.value.String(); v != "6" || m.loads != 1 {
		t.Fatalf("the store holds %s after %d loads, want 6 after 1", v, m.loads)
	}
}

// TestGroupRefresh: Refresh drops the counter even when no commit failed
// (an owner that lost its lease quietly and won again): the adds made
// before are refused, the next go on from the store's value.
func TestGroupRefresh(t *testing.T) {
	m := &memStore{value: fetchadd.Int(10)}
	c := &counter{}
	g := NewGroup(m, "mem", quiet)
	g.Start(c.snapshot, c.reset)
	defer g.Close()
	g.Refresh()
	if err := g.Sync(c.add(1)); err != nil || m.value.String() != "11" {
		t.Fatalf("the first add: %v, the store holds %v; want 11", err, m.value)
	}
	m.set(50, nil, nil) // another owner's term
	before := c.add(1)  // made on 11
	g.Refresh()
	if err := g.Sync(before); err != errLost {
		t.Fatalf("an add made before Refresh: %v, want errLost", err)
	}
	if err := g.Sync(c.add(1)); err != nil || m.value.String() != "51" {
		t.Fatalf("the add after Refresh: %v, the store holds %v; want 51", err, m.value)
	}
}
