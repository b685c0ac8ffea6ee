package bench

import (
	"fmt"
	"io"
	"time"
)

// Print writes a run's report to w: a line saying what was run, a few
// lines for people, and one "result key=value ..." line for scripts
// (scripts/compare.sh reads it).
func Print(w io.Writer, cfg Config, r *Result) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }
	fmt.Fprintf(w, "fetchadd bench: %s at %s, %d connections, depth %d, %d thread(s), %d idle connections\n", cfg.Proto.Name(), cfg.Addr, cfg.Conns, cfg.Depth, cfg.Threads, cfg.Idle)
	fmt.Fprintf(w, "  requests   %d in %.2f s\n", r.Requests, r.Elapsed.Seconds())
	fmt.Fprintf(w, "  ops/s      %.0f\n", r.OpsPerSec())
	fmt.Fprintf(w, "  latency    p50 %s  p99 %s  max %s\n", ms(r.Percentile(50)), ms(r.Percentile(99)), ms(r.Percentile(100)))
	fmt.Fprintf(w, "  errors     %d\n", r.Errors)
	if r.Distinct {
		fmt.Fprintf(w, "  replies    all different: the %d values from %d\n", r.Requests, r.Base)
	} else {
		fmt.Fprintf(w, "  replies    NOT all different: %d repeated, %d outside [%d, %d)\n", r.Dups, r.Outside, r.Base, r.Base+r.Requests)
	}
	perMillion := 0.0
	if r.Requests > 0 {
		perMillion = r.CPU.Seconds() / float64(r.Requests) * 1e6
	}
	fmt.Fprintf(w, "  bench CPU  %.2f s (%.2f s per million requests)\n", r.CPU.Seconds(), perMillion)
	fmt.Fprintf(w, "result proto=%s conns=%d depth=%d requests=%d ops_per_sec=%.0f p50_us=%d p99_us=%d max_us=%d errors=%d distinct=%v bench_cpu_s_per_M=%.3f\n",
		cfg.Proto.Name(), cfg.Conns, cfg.Depth, r.Requests, r.OpsPerSec(), r.Percentile(50).Microseconds(), r.Percentile(99).Microseconds(),
		r.Percentile(100).Microseconds(), r.Errors, r.Distinct, perMillion)
}
