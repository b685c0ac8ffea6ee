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
	e := concurrency.NewElection(sess, s.opt.Prefix+"/owner")
	if err := e.Campaign(won, s.me); err != nil {
		return fmt.Errorf("campaign: %w", err)
	}
	drop := s.own(e.Key(), e.Rev())
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
