package server

import "sync/atomic"

// DefaultOutBudget is the OutBudget a server uses unless told otherwise:
// 8 MiB. 3,000 clients that send and never read then hold at most some
// 30 MB of replies and requests together (twice the budget, and 4 KiB
// each; in the uring mode a receive of 4 KiB each more), where each
// could hold some 128 KiB without it (390 MB); the server stays under
// 100 MB in every mode (docs/operating.md, the limits).
const DefaultOutBudget = 8 << 20

// outFloor is what a connection may always hold, whatever the budget
// says: past the budget it reads at most this many bytes, and answers
// them up to this many bytes of replies (and the one reply that passes
// it). A client that reads its replies holds them only until its socket
// takes them, so it goes on being answered, a read at a time, however
// many others hold replies.
const outFloor = 1 << 10

// An outBudget bounds the bytes that all the connections of a server
// hold, together, for replies their clients have not taken yet and for
// the requests those held back (a client that sends and never reads): the
// capacity of a connection's reply and request buffers, as it says
// (hold). It is safe for concurrent use; a nil *outBudget sets no limit.
//
// The rule. While the budget has outLimit left, a connection reads and
// answers as it would without one (at most outLimit of replies and one
// read). Near it, a connection may take on only what is left. Past it,
// the connections holding the most stop being read: each that holds
// outFloor (1 KiB) or more stops until its replies drain below that, or
// the total below the budget; one that holds less reads and answers at
// most what it lacks of outFloor.
//
// Why a floor, and not a ranking or a share. A client that reads its
// replies holds none between turns (its socket takes them), so past
// the budget it is never among those stopped, and is answered a read of
// up to 1 KiB at a time; the clients that do not read hold more than
// that within a turn, and are stopped, and TCP's flow control stops
// them in turn. A ranking (stop the largest until the total is under
// the budget) would need an order over the connections of every loop,
// kept at every send, and would stop nothing more. A share (the budget
// over the connections holding some) would not bound the total: those
// that took a large share while they were few keep it while it is
// unread, and each newcomer takes the budget over their number, a sum
// that grows with the log of their number.
//
// The bound. A read takes on at most its room in requests and its room
// in replies and one reply more, and append may double the reply
// buffer: so the connections hold at most about twice the budget, and 4
// × outFloor a connection past it, whatever their number; in the uring
// mode a connection's receive (uringBufSize) may bring more requests
// than its room, and it holds those too. Not counted: what a connection
// holds whatever it does (the blocking modes' read buffer and stacks, a
// Session).
type outBudget struct {
	size int64
	held atomic.Int64
}

// newOutBudget returns a budget of limit bytes.
func newOutBudget(limit int) *outBudget { return &outBudget{size: int64(limit)} }

// Held is how many bytes the connections hold now, together.
func (b *outBudget) Held() int { return int(b.held.Load()) }

// room is how many more bytes a connection that holds held may take on
// now: outLimit while the budget has that much left; else what is left
// of it, or what the connection lacks of outFloor if that is more; 0
// past the budget for one holding outFloor or more.
func (b *outBudget) room(held int) int {
	if b == nil {
		return outLimit
	}
	left := b.size - b.held.Load()
	if left >= outLimit {
		return outLimit
	}
	return int(max(left, int64(outFloor-held), 0))
}

// limit is the bound to answer a connection's lines up to
// (fetchadd.Session.Answer) when its replies not yet sent are out:
// outLimit, or less past the budget; at least 1, so that a connection
// whose replies have all gone answers a line.
func (b *outBudget) limit(out []byte) int {
	return max(min(outLimit, len(out)+b.room(cap(out))), 1)
}

// readLimit is how much a connection whose replies not yet sent are out
// may read now, into a buffer of size bytes: all of it within the
// budget, its room past it, and at least a byte (a read the loop has
// decided on goes ahead).
func (b *outBudget) readLimit(out []byte, size int) int {
	return min(size, max(b.room(cap(out)), 1))
}

// keep says whether a connection of the blocking modes, whose replies
// are sent, keeps its reply buffer of held bytes for the next: within
// the budget, yes; past it, only one no larger than a connection may
// hold there (4 × outFloor), so that it answers in it without
// allocating again.
func (b *outBudget) keep(held int) bool {
	return b.room(held) > 0 || held <= 4*outFloor
}

// hold counts what a connection holds now, *held before: the capacity of
// its buffers, 0 when it has none (or is closed).
func (b *outBudget) hold(held *int, now int) {
	if b == nil || now == *held {
		return // unchanged, as a busy connection's buffers mostly are: no write to the loops' shared count
	}
	b.held.Add(int64(now - *held))
	*held = now
}
