package state

import (
	"errors"

	"fetchadd/fetchadd"
)

// Store is where a server's counter is kept durable, one batch of adds at
// a time: a state file (File), or etcd (fetchadd-etcd, in the nested
// module etcd/). A Group calls it, one call at a time, and does the rest:
// group commit, and which replies wait for which commit.
type Store interface {
	// Load reads the counter as the store holds it now, to go on from.
	Load() (fetchadd.Number, error)
	// Commit makes value, the counter with a batch's adds in it, durable:
	// once it returns nil, Load finds value or a later one. A failure
	// leaves the outcome unknown, and the batch's adds are refused. It
	// tells what failed: a failure that wraps ErrStale says the counter in
	// memory may no longer be the one to go on from (another server may
	// own it now), so the Group loads it again before the next commit;
	// one that is a *Reason says why in words for the client.
	Commit(value fetchadd.Number) error
}

// ErrStale, wrapped in a failure of Store.Commit or Store.Load, says the
// counter in memory is not to be trusted: the Group loads it from the
// store before it commits again, and every add made before that is
// refused.
var ErrStale = errors.New("the counter must be read again from its store")

// Reason is a failure whose words are for the client, as they are: Text
// says why the add was not saved, and whether it may count ("this server
// is a standby; ..."). A server tells other failures by their errno
// only, and the log has the whole error.
type Reason struct {
	Text string
	Err  error // what happened
}

func (r *Reason) Error() string { return r.Err.Error() }

// Unwrap returns what happened, so that errors.Is sees ErrStale in it.
func (r *Reason) Unwrap() error { return r.Err }
