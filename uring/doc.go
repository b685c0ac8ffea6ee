// Package uring is io_uring without liburing: the part of liburing a
// server loop needs, on x/sys's raw system calls (Linux 5.19 or later).
//
// io_uring is a pair of queues shared by a program and the kernel through
// mmap:
//
//   - the submission queue (SQ): the program writes requests, SQEs ("read
//     fd 6 into a buffer"), and moves the SQ's tail;
//   - the completion queue (CQ): the kernel writes a result, a CQE, for
//     each request when it is done, and moves the CQ's tail.
//
// Three system calls: io_uring_setup makes the queues (and a descriptor
// for them), io_uring_register hands the ring things to keep (here, a
// ring of receive buffers), and io_uring_enter says "I have queued N
// SQEs" and "wait until M CQEs are there", in one call. So a server loop
// makes one system call per batch of work, however many reads and sends
// the batch holds.
//
// The names follow liburing's: New is io_uring_queue_init, the Prep
// methods io_uring_prep_* (they only queue an operation: the call is
// made by Enter, where sock.Recv or sock.Send makes it at once), Enter
// io_uring_submit_and_wait, Reap io_uring_peek_cqe.
//
// The files, split as liburing's src/ is:
//
//   - abi_linux.go: the ABI of <linux/io_uring.h>: constants, and the
//     structures the kernel reads and writes (io_uring.h);
//   - setup_linux.go: New and Close: io_uring_setup, the mmap'd rings,
//     the probe of the operations (setup.c, syscall.c);
//   - prep_linux.go: queueing an operation as an SQE (liburing.h's
//     io_uring_prep_*);
//   - queue_linux.go: submitting and waiting (io_uring_enter), reading
//     the completions (queue.c);
//   - bufring_linux.go: the provided buffer ring that receives take
//     their buffers from (io_uring_buf_ring_*);
//   - refused.go, refused_linux.go: RefusedError, and why the kernel
//     refuses a ring (a sysctl, a seccomp filter, an old kernel);
//   - trace_linux.go: the -trace lines of the calls and operations, in
//     package strace's notation;
//   - uring_other.go: elsewhere, New refuses.
//
// Package server's uring mode (server/uring_linux.go) runs a loop on it.
package uring
