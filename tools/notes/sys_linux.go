package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysAccept4 is accept4's system call number, as /proc/PID/task/TID/syscall
// shows it.
const sysAccept4 = unix.SYS_ACCEPT4

// tgkill sends sig to one thread of process pid.
func tgkill(pid, tid int, sig syscall.Signal) error { return unix.Tgkill(pid, tid, sig) }

// capturing says whether process pid has a packet socket open (tcpdump,
// once it is capturing), from /proc/net/packet.
func capturing(pid int) bool {
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	b, _ := os.ReadFile("/proc/net/packet")
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) > 8 && inodes[f[8]] {
			return true
		}
	}
	return false
}
