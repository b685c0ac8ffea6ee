// Package etcd keeps fetchadd's counter in etcd, so that it survives the
// loss of a machine: front-ends (fetchadd-etcd, in cmd/) campaign in an
// etcd election; the owner keeps the counter in memory and commits each
// group-commit batch as one transaction, fenced by its election key's
// create revision and the counter's last mod revision; the others refuse
// adds, naming the owner. Store is a state.Store: the lab's server
// commits through it as through a state file.
//
// It is a module of its own (etcd's client needs a newer Go than the
// lab's 1.22, and more dependencies than the lab allows); the lab's
// module does not know it exists. docs/etcd.md is for operators.
package etcd
