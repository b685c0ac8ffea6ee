package bench

import "math/bits"

// maxSpan is how far above the counter's start a reply may be and still
// be looked up in the bitmaps (2^34 requests, 2 GiB of bits): beyond it,
// somebody else has been adding.
const maxSpan = 1 << 34

// mark notes that a reply said v.
func (w *worker) mark(v int64) {
	i := v - w.base
	if i < 0 || i >= maxSpan {
		w.outside++
		return
	}
	word := int(i / 64)
	if word >= len(w.seen) {
		w.seen = append(w.seen, make([]uint64, max(word+1-len(w.seen), len(w.seen)))...)
	}
	bit := uint64(1) << (i % 64)
	if w.seen[word]&bit != 0 {
		w.dups++
	}
	w.seen[word] |= bit
}

// checkDistinct checks that the replies were different values and all in
// [Base, Base+Requests). Each worker marked the values it got in a bitmap
// (one bit per request, counting the repeats it saw itself); merged, the
// bitmaps must hold Requests bits, all below Requests.
func (r *Result) checkDistinct(workers []*worker) {
	var all []uint64
	for _, w := range workers {
		r.Dups += w.dups
		r.Outside += w.outside
		if len(w.seen) > len(all) {
			all = append(all, make([]uint64, len(w.seen)-len(all))...)
		}
		for i, word := range w.seen {
			r.Dups += int64(bits.OnesCount64(all[i] & word)) // seen by an earlier worker too
			all[i] |= word
		}
	}
	for i := r.Requests; i < int64(len(all))*64; i++ {
		if all[i/64]&(1<<(i%64)) != 0 {
			r.Outside++
		}
	}
	r.Distinct = r.Dups == 0 && r.Outside == 0
}
