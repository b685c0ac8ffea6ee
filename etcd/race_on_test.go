//go:build race

package etcd_test

// raceFlags builds fetchadd-etcd under the race detector too when the
// tests run under it (go test -race), so that it checks the front-ends.
var raceFlags = []string{"-race"}
