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
package server
