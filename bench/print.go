package bench

import (
	"cmp"
	"fmt"
	"io"
	"strings"
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
	fmt.Fprintf(w, "  errors     %d%s\n", r.Errors, errorDetail(cfg, r))
	switch {
	case !r.Distinct:
		fmt.Fprintf(w, "  replies    NOT all different: %d repeated, %d outside [%d, %d)\n", r.Dups, r.Outside, r.Base, r.Base+r.Sent)
	case r.Requests == r.Sent:
		fmt.Fprintf(w, "  replies    all different: the %d values from %d\n", r.Requests, r.Base)
	default:
		fmt.Fprintf(w, "  replies    all different: %d values in [%d, %d)\n", r.Requests, r.Base, r.Base+r.Sent)
	}
	if r.Unchecked > 0 {
		fmt.Fprintf(w, "             %d replies from %d on not checked: the check reaches %d values\n", r.Unchecked, r.Base+r.Window, r.Window)
	}
	if r.Interrupted {
		fmt.Fprintf(w, "  interrupted after %.2f s: the replies still to come were not waited for\n", r.Elapsed.Seconds())
	}
	perMillion := 0.0
	if r.Requests > 0 {
		perMillion = r.CPU.Seconds() / float64(r.Requests) * 1e6
	}
	fmt.Fprintf(w, "  bench CPU  %.2f s (%.2f s per million requests)\n", r.CPU.Seconds(), perMillion)
	fmt.Fprintf(w, "result proto=%s conns=%d depth=%d requests=%d ops_per_sec=%.0f p50_us=%d p99_us=%d max_us=%d errors=%d distinct=%v bench_cpu_s_per_M=%.3f missing=%d unchecked=%d interrupted=%v\n",
		cfg.Proto.Name(), cfg.Conns, cfg.Depth, r.Requests, r.OpsPerSec(), r.Percentile(50).Microseconds(), r.Percentile(99).Microseconds(),
		r.Percentile(100).Microseconds(), r.Errors, r.Distinct, perMillion, r.Missing, r.Unchecked, r.Interrupted)
}

// errorDetail says what the errors were: replies that did not come, and
// the first that was not a number.
func errorDetail(cfg Config, r *Result) string {
	var parts []string
	if r.Missing > 0 {
		parts = append(parts, fmt.Sprintf("%d replies did not come", r.Missing))
	}
	if r.TimedOut > 0 {
		parts = append(parts, fmt.Sprintf("%d connections waited longer than %v and were closed", r.TimedOut, cmp.Or(cfg.Timeout, DefaultTimeout)))
	}
	if r.FirstBad != "" {
		parts = append(parts, "the first bad reply: "+r.FirstBad)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}
