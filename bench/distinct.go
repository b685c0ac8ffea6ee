package bench

import "math/bits"

// maxWindow is how many values above the counter's start the bitmaps
// reach at most: 2^30, a bitmap of 128 MiB per worker at most, which
// takes minutes of replies to fill. A reply past it, but below what the
// run's requests can have reached, is counted as not checked.
const maxWindow = 1 << 30

// mark notes that a reply said v.
func (w *worker) mark(v int64) {
	i := v - w.base
	if i < 0 {
		w.outside++
		return
	}
	if i >= int64(len(w.seen))*64 && !w.grow(i) {
		return
	}
	bit := uint64(1) << (i % 64)
	if w.seen[i/64]&bit != 0 {
		w.dups++
	}
	w.seen[i/64] |= bit
}

// grow makes the bitmap reach bit i, doubling it, if i can be checked:
// below the requests sent so far (a reply above them is outside: somebody
// else has been adding) and below maxWindow (past it, not checked). So the
// bitmap is never larger than the run.
func (w *worker) grow(i int64) bool {
	switch {
	case i >= w.l.taken():
		w.outside++
		return false
	case i >= maxWindow:
		w.unchecked++
		return false
	}
	words := min(max(2*len(w.seen), int(i/64)+1), maxWindow/64)
	seen := make([]uint64, words)
	copy(seen, w.seen)
	w.seen = seen
	return true
}

// checkDistinct checks that the replies were different values and all in
// [Base, Base+Sent). Each worker marked the values it got in a bitmap
// (one bit per request, counting the repeats it saw itself); merged, the
// bitmaps must hold Requests bits, all below Sent (grow counted those far
// above it as they came).
func (r *Result) checkDistinct(workers []*worker) {
	var all []uint64
	for _, w := range workers {
		r.Dups += w.dups
		r.Outside += w.outside
		r.Unchecked += w.unchecked
		if len(w.seen) > len(all) {
			all = append(all, make([]uint64, len(w.seen)-len(all))...)
		}
		for i, word := range w.seen {
			r.Dups += int64(bits.OnesCount64(all[i] & word)) // seen by an earlier worker too
			all[i] |= word
		}
	}
	r.Window = min(int64(len(all))*64, r.Sent)
	for i := r.Sent / 64; i < int64(len(all)); i++ { // the bitmaps' last words reach past Sent
		word := all[i]
		if i == r.Sent/64 {
			word &^= 1<<(r.Sent%64) - 1 // the values below Sent are in the range
		}
		r.Outside += int64(bits.OnesCount64(word))
	}
	r.Distinct = r.Dups == 0 && r.Outside == 0
}
