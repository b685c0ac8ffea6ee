""" The handout's terminal program with its counter on a fetch-and-add
server: it prompts, reads a number, sends it, and prints the server's
reply. Read it beside ../c/client.c, ../go/client/client.go and
../../client/dial.go.

    python3 client.py HOST PORT
"""

import socket
import sys


def main():
    """ main routine """
    if len(sys.argv) != 3:
        sys.exit("usage: %s HOST PORT" % sys.argv[0])
    host, port = sys.argv[1], int(sys.argv[2])
    # getaddrinfo, then socket(2) and connect(2) for each address in turn,
    # IPv6 and IPv4, until one connects. Its socket asks for IPPROTO_TCP.
    try:
        sock = socket.create_connection((host, port))
    except OSError as e:  # ECONNREFUSED: nobody listens there
        sys.exit("client.py: connect to %s %s: %s" % (host, port, e))
    replies = sock.makefile("rb")  # recv(2)s, cut into lines for us
    try:
        while True:
            line = input('Enter next number: ')
            # CRLF, and bytes: the text encoded as the terminal gave it
            sock.sendall(line.encode("utf-8", "surrogateescape") + b"\r\n")
            reply = replies.readline()
            if not reply:
                sys.exit("\nclient.py: the server closed the connection")
            print(reply.rstrip(b"\r\n").decode("ascii", "replace"))
    except (EOFError, KeyboardInterrupt):
        pass
    sock.shutdown(socket.SHUT_WR)  # our FIN: "no more lines"
    sock.close()


if __name__ == "__main__":
    main()
