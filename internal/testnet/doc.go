// Package testnet makes network conditions that tests need and the
// kernel gives only on its own terms. Only tests import it.
package testnet
