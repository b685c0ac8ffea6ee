// Command client is the handout's terminal program with its counter on a
// fetch-and-add server, in Go: it prompts, reads a number from stdin,
// sends it, and prints the server's reply. The twin of ../../c/client.c
// and ../../python/client.py; fetchadd client (../../../client/) is the
// same, hardened. Its calls go through fetchadd's package sock, one
// function per system call: ../server/server.go says why.
//
//	go build -o client ./lecture/go/client     (or: make peers)
//	./client HOST PORT        HOST: a name or an address, IPv4 or IPv6
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"fetchadd/sock"

	"golang.org/x/sys/unix"
)

// dial connects to host and port: sock.Resolve turns the name into
// addresses (getaddrinfo's part; a name may have several, IPv6 and
// IPv4), and each is tried in turn.
func dial(host string, port int) (int, error) {
	ips, err := sock.Resolve(host)
	if err != nil {
		return -1, err
	}
	for _, ip := range ips {
		// socket: 0, the default protocol of SOCK_STREAM, TCP (client.c
		// passes the IPPROTO_TCP that getaddrinfo found: the same).
		var fd int
		fd, err = sock.Socket(sock.Domain(ip), unix.SOCK_STREAM, 0)
		if err != nil {
			continue
		}
		// connect: the kernel picks a local port, sends SYN, and
		// returns when the handshake is done (or refused: RST).
		if err = sock.Connect(fd, sock.Sockaddr(ip, port)); err == nil {
			return fd, nil
		}
		sock.Close(fd)
	}
	return -1, err
}

// conn reads a socket through read(2), so that bufio can cut what
// arrives into lines: a read takes whatever has arrived, and bufio keeps
// the bytes past the LF for the next reply.
type conn int

func (c conn) Read(p []byte) (int, error) {
	n, err := sock.Read(int(c), p)
	if err == nil && n == 0 {
		return 0, io.EOF
	}
	return n, err
}

// writeAll writes all of p: write(2) may take less.
func writeAll(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := sock.Write(fd, p)
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// fail ends the program with a message.
func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintf(os.Stderr, "usage: %s HOST PORT\n", os.Args[0])
		os.Exit(2)
	}
	host := os.Args[1]
	port, err := strconv.ParseUint(os.Args[2], 10, 16)
	if err != nil {
		fail("client.go: want a port from 0 to 65535, got %s", os.Args[2])
	}
	fd, err := dial(host, int(port))
	if err != nil {
		fail("client.go: connect to %s %d: %v", host, port, err)
	}
	stdin := bufio.NewReader(os.Stdin)
	replies := bufio.NewReader(conn(fd))
	for {
		fmt.Print("Enter next number: ")
		line, err := stdin.ReadString('\n')
		if line == "" && err != nil {
			break // end of input
		}
		// CRLF, the 1980s' end of line; the line in one write (two small
		// writes could wait for each other: Nagle's algorithm).
		line = strings.TrimSuffix(line, "\n") + "\r\n"
		if err := writeAll(fd, []byte(line)); err != nil {
			fail("client.go: %v", err)
		}
		// The reply, up to its LF, printed without the CR.
		reply, err := replies.ReadString('\n')
		if err != nil {
			fail("\nclient.go: the server closed the connection")
		}
		fmt.Println(strings.TrimRight(reply, "\r\n"))
	}
	// shutdown(SHUT_WR): our FIN, "no more lines"; the server's read
	// returns 0. close frees the descriptor.
	sock.Shutdown(fd, unix.SHUT_WR)
	sock.Close(fd)
}
