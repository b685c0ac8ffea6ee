""" The lab's fetch-and-add server: the handout's fetadd.py turned into a
TCP server, in Python 3. Read it beside ../c/server.c and the Go
(../go/server/server.go, then fetchadd's ../../server/iterative.go).

    python3 server.py [HOST] PORT      (PORT 0: any free port; it says which)

One client at a time. Each line gets b"  --> OLD\\r\\n" or b"!!!!\\r\\n",
exactly as fetchadd's protocol says (docs/operating.md): the line is read
by Python's int() on bytes, a line longer than 16384 bytes before its LF
is "!!!!", numbers are printed in full however long, replies come in the
order of the lines.

The handout says conn.sendall("!!!!\\r\\n"): that is Python 2, where a
str is bytes. In Python 3 a socket sends bytes, b"!!!!\\r\\n", and the
str is a TypeError. And a recv is not a line: it returns what has
arrived, part of a line or several lines, so int(conn.recv(1024)) is
wrong twice (the lines are cut out below).
"""
import socket
import sys

MAX_LINE = 16384  # bytes before the LF; a longer line gets one "!!!!"


class FetchAndAdd(object):
    """ fetch-and-add (the handout's) """
    def __init__(self, initial=0):
        self._value = initial

    def add(self, incr):
        """ the add instruction """
        retv = self._value
        self._value = retv + incr
        return retv

    def __str__(self):
        return str(self._value)


def decimal(n):
    """ str(n) in full. Python 3.11 refuses str() of an int of more than
    4300 digits (a guard against slow conversions); a counter can grow
    past that, so print it 4000 digits at a time. """
    if n < 0:
        return "-" + decimal(-n)
    if n < 10 ** 4000:
        return str(n)
    high, low = divmod(n, 10 ** 4000)
    return decimal(high) + str(low).zfill(4000)


def answer(fad, line):
    """ The reply to one line (bytes, without its LF). """
    try:
        incr = int(line)  # int() of bytes: b" -7\r" is -7, b"1_000" 1000
    except ValueError:    # b"x", b"", and more than 4300 digits
        return b"!!!!\r\n"
    return b"  --> " + decimal(fad.add(incr)).encode("ascii") + b"\r\n"


def serve(conn, fad):
    """ Answer one client until it closes its side. """
    partial = b""     # the start of a line whose LF has not come yet
    too_long = False  # that line passed MAX_LINE: drop it up to its LF
    while True:
        data = conn.recv(1024)  # recvfrom(2): blocks until bytes arrive
        if not data:            # b"": the client shut down its side (FIN)
            break
        lines = (partial + data).split(b"\n")
        partial = lines.pop()   # what follows the last LF: not a line yet
        replies = []
        for line in lines:
            if too_long or len(line) > MAX_LINE:
                replies.append(b"!!!!\r\n")
            else:
                replies.append(answer(fad, line))
            too_long = False
        if len(partial) > MAX_LINE:
            too_long, partial = True, b""
        if replies:
            conn.sendall(b"".join(replies))  # sendto(2), until all is sent
    if too_long:                # a last line without LF
        conn.sendall(b"!!!!\r\n")
    elif partial:
        conn.sendall(answer(fad, partial))


def address(argv):
    """ [HOST] PORT from the command line. """
    if len(argv) not in (2, 3):
        sys.exit("usage: %s [HOST] PORT" % argv[0])
    host = argv[1] if len(argv) == 3 else "127.0.0.1"
    if not argv[-1].isdigit() or int(argv[-1]) > 65535:
        sys.exit("%s: want a port from 0 to 65535, got %s" % (argv[0], argv[-1]))
    return host, int(argv[-1])


def main():
    """ main routine """
    host, port = address(sys.argv)
    fad = FetchAndAdd()
    # socket(2): a TCP endpoint, descriptor 3
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # SO_REUSEADDR: bind even while old connections linger in TIME_WAIT
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))  # bind(2): the address and port
        except OSError as e:      # EADDRINUSE: another server has the port
            sys.exit("server.py: bind %s %d: %s" % (host, port, e))
        s.listen(1)           # listen(2): the kernel now completes handshakes
        print("server.py: listening on %s:%d: one connection at a time"
              % s.getsockname(), file=sys.stderr, flush=True)
        while True:
            # accept(2) blocks until a handshake is done; conn is descriptor 4
            conn, _ = s.accept()
            with conn:        # close(2) at the end of the block
                try:
                    serve(conn, fad)
                except OSError:  # ECONNRESET, EPIPE: the client has gone
                    pass


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
