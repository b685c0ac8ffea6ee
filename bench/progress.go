package bench

import (
	"fmt"
	"io"
	"time"
)

// progress draws "N requests, X ops/s" on w every second, until the
// returned function is called; then it erases the line. It reads the
// workers' reply counts, which are atomic, as they run.
func progress(w io.Writer, start time.Time, workers []*worker) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case now := <-tick.C:
				var n int64
				for _, wk := range workers {
					n += wk.replies.Load()
				}
				fmt.Fprintf(w, "\r\033[K%d requests, %.0f ops/s", n, float64(n)/now.Sub(start).Seconds())
			}
		}
	}()
	return func() { close(done); <-finished }
}
