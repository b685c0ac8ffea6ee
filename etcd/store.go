package etcd

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"fetchadd/fetchadd"
	"fetchadd/state"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Options says where the counter is kept and how a front-end campaigns.
type Options struct {
	// Prefix names the keys: Prefix+"/counter" holds the counter in
	// decimal, and the election's keys are under Prefix+"/owner/".
	Prefix string
	// Lease is the election's lease, in whole seconds (at least 1): an
	// owner that dies is replaced about this long after.
	Lease time.Duration
	// Timeout bounds each transaction: a batch whose commit takes longer
	// is refused (its outcome is unknown), and the counter read again.
	Timeout time.Duration
	// Logger says when this front-end owns the counter, and when not.
	Logger *log.Logger
}

// Store is the counter in etcd (a state.Store), for one front-end: it
// campaigns for ownership in the background; while it owns the counter
// it commits each batch as one transaction, else it refuses at once.
type Store struct {
	cli    *clientv3.Client
	opt    Options
	me     string // this front-end's address, as the others name it to clients
	key    string // the counter's key
	group  *state.Group
	cancel context.CancelFunc
	wg     sync.WaitGroup
	digits []byte // the value being committed, in decimal

	mu       sync.Mutex
	owner    bool          // this front-end won the election, and its lease holds
	ownerKey string        // its election key
	ownerRev int64         // and that key's create revision: the fence
	loaded   bool          // the counter was read in this term; modRev is its revision
	modRev   int64         // the counter's mod revision at the last load or commit (0: no key)
	drop     chan struct{} // closed when a transaction finds the fence gone
	leader   string        // the owner's address, as last seen ("": none)
}

// New makes a front-end's store on cli. Until Start it owns nothing, and
// every commit is refused.
func New(cli *clientv3.Client, opt Options) *Store {
	s := &Store{cli: cli, opt: opt, key: opt.Prefix + "/counter", cancel: func() {}}
	s.group = state.NewGroup(s, "etcd "+s.key, opt.Logger)
	return s
}

// Start campaigns for the counter, as the front-end at address me (what
// the others name to clients), and watches who owns it, until Close.
func (s *Store) Start(me string) {
	s.me = me
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.readOwner(ctx, s.opt.Prefix+"/owner/") // a standby's first refusals name the owner
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.campaign(ctx) }()
	go func() { defer s.wg.Done(); s.watchOwner(ctx) }()
}

// Group is the group commit over the store, for server.Config.Store.
func (s *Store) Group() *state.Group { return s.group }

// Close stops campaigning, and gives up the counter if this front-end
// owns it (its lease revoked, so that a standby takes over at once).
// Call it after the server has stopped.
func (s *Store) Close() {
	s.cancel()
	s.wg.Wait()
}

// Owner says whether this front-end owns the counter now.
func (s *Store) Owner() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owner
}

// Load reads the counter (state.Store): one transaction that reads it
// only if this front-end's election key is still there, so that what it
// reads is the counter no one else may move. A standby fails at once.
func (s *Store) Load() (fetchadd.Number, error) {
	s.mu.Lock()
	owner, key, rev := s.owner, s.ownerKey, s.ownerRev
	s.mu.Unlock()
	if !owner {
		return fetchadd.Number{}, s.standby()
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opt.Timeout)
	defer cancel()
	resp, err := s.cli.Txn(ctx).If(fence(key, rev)).Then(clientv3.OpGet(s.key)).Commit()
	if err != nil {
		return fetchadd.Number{}, s.failed("reading the counter", err, "did not count")
	}
	if !resp.Succeeded {
		return fetchadd.Number{}, s.fenceLost(rev)
	}
	value, modRev := fetchadd.Int(0), int64(0) // no key yet: 0
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		v, ok := fetchadd.ParseDecimal(kvs[0].Value)
		if !ok {
			return fetchadd.Number{}, &state.Reason{
				Text: "the counter in etcd is not a number; the operator must look (this add did not count)",
				Err:  fmt.Errorf("etcd key %s holds %.40q, not a decimal number: %w", s.key, kvs[0].Value, state.ErrStale),
			}
		}
		value, modRev = v, kvs[0].ModRevision
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.owner || s.ownerRev != rev { // lost meanwhile
		return fetchadd.Number{}, s.standbyLocked()
	}
	s.loaded, s.modRev = true, modRev
	return value, nil
}

// Commit puts value, the counter with a batch's adds in it (state.Store),
// in one transaction that compares the election key's create revision
// (this front-end still owns the counter) and the counter's mod revision
// (no one wrote it since this front-end read or wrote it). It returns
// once etcd has committed it, or with the reason the batch is refused;
// every failure drops the counter in memory (state.ErrStale), to be read
// again before the next commit.
func (s *Store) Commit(value fetchadd.Number) error {
	s.mu.Lock()
	owner, loaded, key, rev, modRev := s.owner, s.loaded, s.ownerKey, s.ownerRev, s.modRev
	s.mu.Unlock()
	if !owner || !loaded {
		return s.standby()
	}
	s.digits = value.Append(s.digits[:0])
	ctx, cancel := context.WithTimeout(context.Background(), s.opt.Timeout)
	defer cancel()
	resp, err := s.cli.Txn(ctx).
		If(fence(key, rev), clientv3.Compare(clientv3.ModRevision(s.key), "=", modRev)).
		Then(clientv3.OpPut(s.key, string(s.digits))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err == nil && resp.Succeeded {
		s.committed(rev, resp.Header.Revision) // the put's
		return nil
	}
	s.unload()
	switch {
	case err != nil:
		return s.failed("committing a batch", err, "may still count")
	case owns(resp, rev):
		return &state.Reason{
			Text: "the counter in etcd was written by another; this server reads it again (this add did not count)",
			Err:  fmt.Errorf("etcd key %s changed under its owner: %w", s.key, state.ErrStale),
		}
	}
	return s.fenceLost(rev)
}

// committed notes the counter's mod revision after a commit of the term
// whose fence is rev.
func (s *Store) committed(rev, modRev int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ownerRev == rev {
		s.modRev = modRev
	}
}

// unload drops what this front-end knows of the counter: it reads it
// again before it commits.
func (s *Store) unload() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loaded = false
}

// owns says whether a commit's Else found the election key of create
// revision rev: its owner still owns the counter, which another wrote.
func owns(resp *clientv3.TxnResponse, rev int64) bool {
	kvs := resp.Responses[0].GetResponseRange().Kvs
	return len(kvs) > 0 && kvs[0].CreateRevision == rev
}

// fence compares the election key's create revision: true while the
// front-end that won with it still owns the counter. A key deleted (its
// lease ran out) and made again by another campaign has another.
func fence(key string, rev int64) clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(key), "=", rev)
}

// failed is a transaction that failed or timed out: its outcome is
// unknown to this front-end, whose counter is dropped.
func (s *Store) failed(doing string, err error, counts string) error {
	text := fmt.Sprintf("etcd failed: %v (the add %s)", err, counts)
	if errors.Is(err, context.DeadlineExceeded) {
		text = fmt.Sprintf("etcd did not answer within %v (the add %s)", s.opt.Timeout, counts)
	}
	return &state.Reason{Text: text, Err: fmt.Errorf("etcd: %s: %w (%w)", doing, err, state.ErrStale)}
}

// fenceLost is a transaction that found this front-end's election key
// gone: it no longer owns the counter, and campaigns again.
func (s *Store) fenceLost(rev int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner && s.ownerRev == rev {
		s.owner, s.loaded = false, false
		close(s.drop)
	}
	return &state.Reason{
		Text: "this server lost the counter's ownership (the add did not count)",
		Err:  fmt.Errorf("etcd: election key gone: no longer the owner: %w", state.ErrStale),
	}
}

// standby is the refusal of a front-end that does not own the counter,
// naming the one that does.
func (s *Store) standby() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.standbyLocked()
}

func (s *Store) standbyLocked() error {
	text := "this server is a standby, and no server owns the counter now (this add did not count)"
	if s.leader != "" && s.leader != s.me {
		text = fmt.Sprintf("this server is a standby; the counter's owner is %s: send adds there (this add did not count)", s.leader)
	}
	return &state.Reason{Text: text, Err: fmt.Errorf("etcd: not the counter's owner: %w", state.ErrStale)}
}
