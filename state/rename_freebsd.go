package state

// renameNew renames from to to, failing with EEXIST if to exists:
// FreeBSD has no rename that will not replace, so link then unlink
// (linkNew).
func renameNew(from, to string) error { return linkNew(from, to) }
