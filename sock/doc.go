// Package sock is a thin layer over the Berkeley sockets system calls, one
// function per call, named after it, so that each line of a server reads
// like the C listing beside it:
//
//	C                          Go (this package)
//	socket(AF_INET, ...)       sock.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
//	setsockopt(...)            sock.SetsockoptInt(fd, level, opt, value),
//	                           sock.SetsockoptTimeval(fd, level, opt, tv)
//	getsockopt(...)            sock.GetsockoptInt(fd, level, opt)
//	bind(fd, &addr, len)       sock.Bind(fd, sa)
//	listen(fd, backlog)        sock.Listen(fd, backlog)
//	accept(fd, &addr, &len)    sock.Accept(fd, false)
//	connect(fd, &addr, len)    sock.Connect(fd, sa), sock.ConnectWithin(fd, sa, t)
//	getsockname(fd, ...)       sock.Getsockname(fd)
//	getsockopt(SO_PEERNAME)    sock.Peername(fd, domain) (Linux)
//	read(fd, buf, n)           sock.Read(fd, buf)
//	recv(fd, buf, n, flags)    sock.Recv(fd, buf, flags)
//	send(fd, buf, n, flags)    sock.Send(fd, buf, flags), sock.SendAll(fd, buf)
//	write(fd, buf, n)          sock.Write(fd, buf)
//	shutdown(fd, how)          sock.Shutdown(fd, how)
//	close(fd)                  sock.Close(fd)
//	fcntl(fd, F_SETFL, ...)    sock.SetNonblock(fd)
//	poll(fds, nfds, timeout)   sock.Poll(fds, timeout)
//	pipe(fds)                  sock.Pipe()
//	epoll_create1(...)         sock.EpollCreate1()
//	epoll_ctl(ep, op, fd, ev)  sock.EpollCtl(ep, op, fd, events)
//	epoll_wait(ep, ev, n, ms)  sock.EpollWait(ep, ev, ms, raw)
//	kqueue()                   sock.Kqueue()
//	kevent(kq, ch, n, ev, ...) sock.Kevent(kq, ch, ev, ms)
//
// The files follow the listing:
//
//   - connection.go: the calls that make a connection (socket to
//     getsockname);
//   - io.go: the calls on one (read to close, then fcntl and poll);
//   - pipe.go: the pipe;
//   - epoll_linux.go, with epoll_wait_linux.go or epoll_pwait_linux.go
//     (the wait of each architecture), and kqueue_bsd.go: the readiness
//     calls (package poller makes an event loop's Poller of them,
//     package rawwait says which waits may be raw);
//   - peername_linux.go: the peer's address of an accepted descriptor;
//   - addr.go: addresses (sockaddrs, netip, HOST:PORT, Resolve);
//   - conventions.go: the conventions below, written once;
//   - syscall_accept4.go, syscall_darwin.go, syscall_linux.go,
//     syscall_bsd.go: where the systems differ, the wrapper is written
//     once and makes the call through a small unexported function of the
//     call's name, in a file per system: syscall_accept4.go on Linux and
//     FreeBSD (socket, accept4 and sendto, with flags, and recvfrom),
//     syscall_darwin.go on macOS (socket, accept, write or sendmsg, then
//     fcntl and setsockopt in place of the flags, and recvfrom),
//     syscall_linux.go on Linux
//     (pipe2, ppoll) and syscall_bsd.go on macOS and FreeBSD (pipe,
//     poll).
//
// After each call a wrapper hands its arguments and result to package
// strace, which prints the -trace line when tracing is on (strace.Out).
// io_uring, whose operations are not calls of their own, is package
// uring's.
//
// Every function makes the one system call its name says (and, where an OS
// lacks a flag, the fcntl or setsockopt that stands in for it). What C code
// leaves to the caller is done here, once:
//
//   - An error names the call that failed, as "bind: address already in
//     use" (os.NewSyscallError), so callers can add what they were doing.
//   - EINTR is retried. The Go runtime sends its threads signals (SIGURG for
//     preemption) and a blocking call can come back interrupted. close is
//     the exception: the descriptor is gone even when close says EINTR.
//   - An interrupted connect is never issued again: the kernel goes on with
//     the handshake, and Connect waits for it and reads SO_ERROR.
//   - Descriptors are close-on-exec, and writing to a peer that has gone
//     returns EPIPE instead of raising SIGPIPE (MSG_NOSIGNAL on Linux and
//     FreeBSD, SO_NOSIGPIPE on macOS).
//
// Descriptors are plain ints, as in C. Package net is used for one thing:
// Resolve looks a name up with its resolver (net.DefaultResolver, which
// reads /etc/hosts and asks DNS, as getaddrinfo does); no socket here is
// package net's.
package sock
