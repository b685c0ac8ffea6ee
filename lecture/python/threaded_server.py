""" Next week's server: socketserver.ThreadingTCPServer, a thread per
connection, so a second client is served while the first stays. The
protocol is server.py's (serve, answer); the counter takes a lock,
because two threads may add at once.

    python3 threaded_server.py [HOST] PORT    (PORT 0: any free port)

socketserver makes the same calls as server.py, with three differences
(make side-by-side's legend): listen(5), its request_queue_size; no
SO_REUSEADDR unless allow_reuse_address is set (it is, below); and
serve_forever waits in poll(2) for half a second at a time, to see
whether shutdown() was asked, then accept(2)s.
"""

import socketserver
import sys
import threading

from server import FetchAndAdd, address, serve


class LockedFetchAndAdd(FetchAndAdd):
    """ fetch-and-add, one thread at a time """
    def __init__(self, initial=0):
        FetchAndAdd.__init__(self, initial)
        self._lock = threading.Lock()

    def add(self, incr):
        with self._lock:
            return FetchAndAdd.add(self, incr)


class Handler(socketserver.BaseRequestHandler):
    """ One connection, in a thread of its own. """
    def handle(self):
        try:
            serve(self.request, self.server.fad)
        except OSError:  # the client has gone
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # SO_REUSEADDR, as the lab's server
    daemon_threads = True       # Ctrl-C does not wait for the clients


def main():
    """ main routine """
    with Server(address(sys.argv), Handler) as srv:
        srv.fad = LockedFetchAndAdd()
        print("threaded_server.py: listening on %s:%d: a thread per connection"
              % srv.server_address, file=sys.stderr, flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
