// Package server runs the fetch-and-add service over TCP. It listens with
// socket, setsockopt, bind and listen, then serves in one of five modes,
// the lab's server and the ones after it:
//
//   - iterative: one connection at a time, blocking calls (the lab's)
//   - threaded: a thread (goroutine) per connection, blocking calls
//   - poll: one thread, non-blocking descriptors, poll(2)
//   - event: an event loop per CPU on epoll (Linux) or kqueue (BSD, macOS)
//   - uring: an event loop per CPU on io_uring (Linux 5.19 and later)
//
// Every mode speaks the same protocol (fetchadd.Session) and shares one
// counter for the server's whole life.
//
// The files, a mode each (as UNP's chapter 30 has serv00, serv01, ...),
// then an idea each:
//
//   - iterative.go: the iterative mode, the lab's server, with what the
//     threaded mode shares: its accept loop (acceptBlocking) and a
//     connection served with blocking calls (serveConn);
//   - threaded.go: the threaded mode, a goroutine per connection;
//   - deadline.go: the blocking modes' idle time, per connection;
//   - loop.go: the event loop of the poll and event modes (a Poller of
//     package poller), and the end of a batch, which the uring loop shares;
//   - conn.go: a connection of a loop: receive, answer, send, move on,
//     close;
//   - handoff.go: loop 0 accepts, and hands the connections out in turn;
//   - uring_linux.go, uring_accept_linux.go, uring_conn_linux.go: the
//     uring mode's loop, its accept and its connections, on package uring;
//     uring.go: whether io_uring runs here (uring_other.go: elsewhere);
//   - config.go: the modes, the limits, Config, its checks and defaults, the
//     address to listen on;
//   - listen.go: the listening socket (Listen), and TCP_NODELAY;
//   - server.go: the Server, Serve and Stop, and the blocking modes'
//     connections Stop must wake;
//   - limits.go: the connection limit, the pause when out of descriptors,
//     and the log line of a connection's end;
//   - outbudget.go: the out budget (-out-budget), the memory for unsent
//     replies that all connections share;
//   - idle.go: the loops' sweep for idle connections, and the idle line;
//   - save.go: durability (-state): no reply before its add is saved, a
//     refusal that says why when saving fails;
//   - rawwait.go: which loops wait raw, and the P they need (SpareP).
package server
