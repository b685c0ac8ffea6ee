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
// A session asks the budget before it holds more for a line. If the limit
// would be passed and the session already holds 64 bytes (lineFloor), the
// line is refused: its bytes are dropped, and its reply is Busy. One
// that holds less may always go on. So the sessions of a server hold at
// most the limit and 64 bytes each.
type Budget struct {
	limit int64
	held  atomic.Int64
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int) *Budget { return &Budget{limit: int64(limit)} }

// take counts n more bytes held and reports true, unless refusable and
// they would take the count past the limit.
func (b *Budget) take(n int, refusable bool) bool {
	if b == nil {
		return true
	}
	for {
		held := b.held.Load()
		if refusable && held+int64(n) > b.limit {
			return false
		}
		if b.held.CompareAndSwap(held, held+int64(n)) {
			return true
		}
	}
}

// give counts n bytes given back.
func (b *Budget) give(n int) {
	if b == nil || n == 0 {
		return
	}
	if b.held.Add(-int64(n)) < 0 {
		panic("fetchadd: budget given back more than was taken")
	}
}
