//go:build linux && race

package main

// raceEnabled says the tests (and the child servers, which are this test
// binary) run under the race detector, which multiplies memory use: the
// memory figures are then not the product's.
const raceEnabled = true
