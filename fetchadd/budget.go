package fetchadd

import "sync/atomic"

// DefaultLineBudget is the Budget a server should use unless told
// otherwise: 8 MiB. A line holds at most its sign and MaxDigits digits,
// 4,301 bytes, so 8 MiB lets some 1,950 connections be in the middle of
// the longest numbers at once, more than any honest load splits across
// reads at one time; and since a session's first lineFloor bytes are
// never refused, ordinary numbers do not spend it. Yet 100,000
// connections then hold at most 8 MiB + 100,000 × 64 bytes, about 15 MB,
// for unfinished lines, where each could hold MaxLine bytes before
// (1.7 GB); and with the Go collector's headroom (the heap may grow to
// twice what is live) a server stays under 48 MB with 5,000 connections
// holding the longest lines they can.
const DefaultLineBudget = 8 << 20

// lineFloor is what a session may always hold for an unfinished line,
// whatever the budget says: room for the sign and the 19 digits of any
// int64, and for leading zeros, so that ordinary numbers split across
// reads are never refused.
const lineFloor = 64

// A Budget bounds the bytes that all the sessions of a server hold,
// together, for lines whose LF has not come yet. It is safe for concurrent
// use. A nil *Budget sets no limit.
//
// A session asks the budget before it holds more for a line. Within the
// limit, or within lineFloor bytes, it may. Past the limit, the sessions
// that would hold the most are refused: one that would hold more than an
// equal share of the limit among the sessions holding anything has its
// line refused (its bytes are dropped, its reply is Busy), while one that
// holds less may still go on. So the sessions of a server hold at most
// twice the limit and lineFloor bytes each, however many they are, and
// the ones holding the most are the ones refused.
type Budget struct {
	limit   int64
	held    atomic.Int64
	holders atomic.Int64 // sessions holding some bytes
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int) *Budget { return &Budget{limit: int64(limit)} }

// Held is how many bytes the sessions hold now, together.
func (b *Budget) Held() int {
	if b == nil {
		return 0
	}
	return int(b.held.Load())
}

// take counts n more bytes held by a session that holds old, and reports
// true, unless they are refused (see Budget).
func (b *Budget) take(old, n int) bool {
	if b == nil {
		return true
	}
	after := old + n
	if after > lineFloor && b.held.Load()+int64(n) > b.limit {
		holders := b.holders.Load()
		if old == 0 {
			holders++ // this one, too
		}
		if int64(after) > b.limit/max(holders, 1) {
			return false
		}
	}
	b.held.Add(int64(n))
	if old == 0 && n > 0 {
		b.holders.Add(1)
	}
	return true
}

// give counts back all that a session held.
func (b *Budget) give(held int) {
	if b == nil || held == 0 {
		return
	}
	b.held.Add(-int64(held))
	b.holders.Add(-1)
}
