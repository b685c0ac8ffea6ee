package etcd

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// campaign runs the front-end's terms until ctx ends: in each it campaigns
// in the election, and owns the counter from its win until its lease runs
// out or a transaction finds its key gone.
func (s *Store) campaign(ctx context.Context) {
	for ctx.Err() == nil {
		err := s.term(ctx)
		if err == nil || ctx.Err() != nil {
			continue
		}
		s.opt.Logger.Printf("etcd: %v; campaigning again", err)
		select { // etcd may be down: not a busy loop
		case <-ctx.Done():
		case <-time.After(s.opt.Timeout):
		}
	}
}

// term is one lease: campaign, then own the counter until the lease or
// the fence is lost, or ctx ends. Its end revokes the lease, so that a
// standby's campaign wins at once when this front-end stops.
func (s *Store) term(ctx context.Context) error {
	ttl := max(int(s.opt.Lease/time.Second), 1)
	// The grant within -timeout, and ctx: with etcd down, Close must not
	// wait for it. The session's revoke at its end waits a lease at most.
	grant, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	lease, err := s.cli.Grant(grant, int64(ttl))
	cancel()
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	sess, err := concurrency.NewSession(s.cli, concurrency.WithLease(lease.ID), concurrency.WithTTL(ttl))
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	defer sess.Close()
	won, stop := context.WithCancel(ctx)
	defer stop()
	go func() { // a lease lost while campaigning ends the campaign
		select {
		case <-sess.Done():
			stop()
		case <-won.Done():
		}
	}()
	key, rev, err := s.win(won, sess.Lease())
	if err != nil {
		return fmt.Errorf("campaign: %w", err)
	}
	drop := s.own(key, rev)
	s.group.Refresh() // read the counter before the first adds
	select {
	case <-sess.Done():
		err = errors.New("the lease ran out (etcd unreachable for a lease period)")
	case <-drop:
		err = errors.New("the election key is gone: another server may own the counter")
	case <-ctx.Done():
	}
	s.disown()
	return err
}

// win campaigns as concurrency.Election does, with the same keys: it puts
// this front-end's election key, PREFIX/owner/LEASE, holding its address,
// and waits until every key made before it is gone; the first key made
// owns the counter. It returns the key and its create revision, the
// fence. Unlike Election.Campaign, whose cleanup after a cancel waits on
// the client's own context, every call here ends with ctx or -timeout:
// etcd being down must not hold the campaign (nor Close). The key goes
// with the lease when the term ends.
func (s *Store) win(ctx context.Context, lease clientv3.LeaseID) (key string, rev int64, err error) {
	key = fmt.Sprintf("%s/owner/%x", s.opt.Prefix, lease)
	put, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	resp, err := s.cli.Txn(put).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, s.me, clientv3.WithLease(lease))).
		Else(clientv3.OpGet(key)).Commit()
	cancel()
	if err != nil {
		return "", 0, err
	}
	rev = resp.Header.Revision
	if !resp.Succeeded {
		rev = resp.Responses[0].GetResponseRange().Kvs[0].CreateRevision
	}
	for {
		get, cancel := context.WithTimeout(ctx, s.opt.Timeout)
		older, err := s.cli.Get(get, s.opt.Prefix+"/owner/", append(clientv3.WithLastCreate(), clientv3.WithMaxCreateRev(rev-1))...)
		cancel()
		switch {
		case err != nil:
			return "", 0, err
		case len(older.Kvs) == 0:
			return key, rev, nil
		}
		if err := s.waitDelete(ctx, string(older.Kvs[0].Key), older.Header.Revision); err != nil {
			return "", 0, err
		}
	}
}

// waitDelete waits until key, seen at revision rev, is deleted, or ctx
// ends.
func (s *Store) waitDelete(ctx context.Context, key string, rev int64) error {
	w, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range s.cli.Watch(w, key, clientv3.WithRev(rev+1)) {
		if err := resp.Err(); err != nil {
			return err
		}
		for _, ev := range resp.Events {
			if ev.Type == clientv3.EventTypeDelete {
				return nil
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("the watch on the election ended (etcd without a leader?)")
}

// own makes this front-end the owner, fenced by its election key's
// create revision, and returns the channel closed when a transaction
// finds that key gone.
func (s *Store) own(key string, rev int64) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.owner, s.ownerKey, s.ownerRev, s.loaded = true, key, rev, false
	s.drop = make(chan struct{})
	s.opt.Logger.Printf("etcd: this server owns the counter (election key %s, revision %d)", key, rev)
	return s.drop
}

// disown ends the term: from now on every add is refused at once.
func (s *Store) disown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ownerKey != "" {
		s.opt.Logger.Printf("etcd: this server no longer owns the counter")
	}
	s.owner, s.loaded, s.ownerKey = false, false, ""
}

// watchOwner keeps s.leader, the owner's address that a standby's
// refusals name, until ctx ends: it reads the election's first key, then
// watches the election for a change.
func (s *Store) watchOwner(ctx context.Context) {
	prefix := s.opt.Prefix + "/owner/"
	for ctx.Err() == nil {
		rev, err := s.readOwner(ctx, prefix)
		if err == nil {
			w, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
			for resp := range s.cli.Watch(w, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
				if resp.Err() != nil {
					break
				}
				if _, err = s.readOwner(ctx, prefix); err != nil {
					break
				}
			}
			cancel()
		}
		select { // etcd may be down: not a busy loop
		case <-ctx.Done():
		case <-time.After(s.opt.Timeout):
		}
	}
}

// readOwner reads who owns the counter: the value of the election key
// made first. It returns the revision it read at.
func (s *Store) readOwner(ctx context.Context, prefix string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithFirstCreate()...)
	if err != nil {
		return 0, err
	}
	leader := ""
	if len(resp.Kvs) > 0 {
		leader = string(resp.Kvs[0].Value)
	}
	s.mu.Lock()
	s.leader = leader
	s.mu.Unlock()
	return resp.Header.Revision, nil
}
