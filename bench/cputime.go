package bench

import (
	"time"

	"golang.org/x/sys/unix"
)

// cpuTime is the process's CPU time so far, user and system: getrusage
// (RUSAGE_SELF). The load generator reports its own cost with it.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
