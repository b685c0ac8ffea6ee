/*
 * server.c: the lab's fetch-and-add server in C, one Berkeley sockets
 * call after another, as the lecture writes them. Read it beside its Go
 * twin (../go/server/server.go), then fetchadd's (../../server/iterative.go,
 * through ../../sock/), and the Python (../python/server.py).
 *
 *     cc -Wall -Wextra -O2 -o server server.c     (or: make peers)
 *     ./server [HOST] PORT      HOST: an IPv4 address (127.0.0.1);
 *                               PORT 0: any free port (it says which)
 *
 * An iterative server: one client at a time. Each line gets "  --> OLD"
 * (the counter before the add) or "!!!!", with CRLF, in order, however
 * the lines are cut into reads. For the handout's inputs its replies are
 * the Go server's, byte for byte. Where a long long and strtoll must
 * differ from Python's int(), it says so here; each row is checked by
 * TestCServerDifferences in ../../lecture_test.go:
 *
 *   what                  sent                    C: this server          Go and Python
 *   number past int64     9223372036854775808     !!!! (strtoll: ERANGE)  the number: any size
 *   counter past int64    9223372036854775807, 1  !!!!: 1 is not added    goes on past int64
 *   underscores           1_000                   !!!! (strtoll stops)    1000, as int()
 *   over 4300 digits      4301 zeros, then 7      adds 7                  !!!! (Python's limit)
 *   Unicode digit, space  U+0663 (3), U+00A0 5    !!!!                    !!!! too: the wire is bytes
 *   line length           16384 bytes; 16385      a number; !!!!          the same
 *   whitespace, sign, CR  " +5\r", "\v-5\f"       a number                the same
 *
 * (Unicode digits count only in the terminal program, which reads text:
 * fetchadd local, and the handout's fetadd.py.)
 */
#include <arpa/inet.h>   /* inet_pton, inet_ntop, htons */
#include <ctype.h>       /* isspace */
#include <errno.h>
#include <limits.h>      /* LLONG_MAX, LLONG_MIN */
#include <netinet/in.h>  /* struct sockaddr_in */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>      /* read, write, close */

#define MAXLINE 16384    /* bytes before the LF; a longer line is "!!!!" */
#define BACKLOG 1        /* the lab's listen(1): see docs/lab-5-one-at-a-time.md */

static long long counter;          /* one counter for the server's life */
static char out[8192];             /* replies to send, in order */
static size_t outlen;

/* write_all sends n bytes. write(2) may take fewer than asked (the
 * socket's send buffer was nearly full): send the rest. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;   /* EPIPE, ECONNRESET: the client has gone */
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* parse reads a line (len bytes, no LF, room for a NUL after it) as a
 * number: whitespace around it, a sign, decimal digits, in range. */
static int parse(char *line, size_t len, long long *value)
{
	char *end;
	while (len > 0 && isspace((unsigned char)line[len - 1]))
		len--;              /* strtoll skips leading whitespace, not trailing */
	line[len] = '\0';       /* strtoll reads a C string */
	errno = 0;
	*value = strtoll(line, &end, 10);
	if (end == line)        /* no digits at all: "", "x", "+" */
		return -1;
	if (errno == ERANGE)    /* past LLONG_MAX or LLONG_MIN */
		return -1;
	if (end != line + len)  /* something after the digits: "1_000", "5 5", a NUL */
		return -1;
	return 0;
}

/* reply appends the answer to one line to out. */
static void reply(char *line, size_t len, int too_long)
{
	long long incr;
	if (too_long || parse(line, len, &incr) < 0 ||
	    (incr > 0 && counter > LLONG_MAX - incr) ||
	    (incr < 0 && counter < LLONG_MIN - incr)) {
		outlen += (size_t)snprintf(out + outlen, sizeof out - outlen, "!!!!\r\n");
		return;
	}
	outlen += (size_t)snprintf(out + outlen, sizeof out - outlen, "  --> %lld\r\n", counter);
	counter += incr;
}

/* serve answers one client until it closes its side. */
static void serve(int cfd)
{
	static char line[MAXLINE + 1]; /* the line so far, and room for a NUL */
	char buf[4096];
	size_t len = 0;                /* bytes of the line so far */
	int too_long = 0;              /* the line passed MAXLINE: drop it to its LF */
	ssize_t n, i;

	/* read(2) blocks until bytes arrive, and returns what has arrived:
	 * part of a line, or several lines. 0 is the end of the stream. */
	while ((n = read(cfd, buf, sizeof buf)) > 0) {
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				reply(line, len, too_long);
				len = 0;
				too_long = 0;
			} else if (len < MAXLINE) {
				line[len++] = buf[i];
			} else {
				too_long = 1;
			}
			if (outlen > sizeof out - 64) {   /* out is nearly full */
				if (write_all(cfd, out, outlen) < 0)
					return;
				outlen = 0;
			}
		}
		/* write: the replies to this read, in one call. */
		if (outlen > 0 && write_all(cfd, out, outlen) < 0)
			return;
		outlen = 0;
	}
	if (n == 0 && (len > 0 || too_long)) {   /* a last line without LF */
		reply(line, len, too_long);
		write_all(cfd, out, outlen);
		outlen = 0;
	}
	/* n < 0: ECONNRESET, the client has gone. */
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *port;
	struct sockaddr_in sin, peer;
	socklen_t sinlen = sizeof sin, peerlen;
	char name[INET_ADDRSTRLEN], *end;
	int fd, cfd, one = 1;
	long p;

	if (argc == 2) {
		port = argv[1];
	} else if (argc == 3) {
		host = argv[1];
		port = argv[2];
	} else {
		fprintf(stderr, "usage: %s [HOST] PORT\n", argv[0]);
		return 2;
	}
	p = strtol(port, &end, 10);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)p);   /* network byte order */
	if (*port == '\0' || *end != '\0' || p < 0 || p > 65535 ||
	    inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		fprintf(stderr, "server.c: want an IPv4 address and a port from 0 to 65535, got %s %s\n", host, port);
		return 2;
	}

	/* A client that leaves before its reply makes write fail; without
	 * this, the kernel would kill the server with SIGPIPE instead. */
	signal(SIGPIPE, SIG_IGN);

	/* socket: the kernel makes a TCP endpoint and gives its descriptor,
	 * the lowest free number (3: 0, 1 and 2 are stdin, stdout, stderr). */
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
		perror("socket");
		return 1;
	}
	/* SO_REUSEADDR: bind even while old connections of this port linger
	 * in TIME_WAIT, so a restarted server starts at once. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
		perror("setsockopt");
		return 1;
	}
	/* bind: give the socket its address and port. */
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		perror("bind");
		return 1;
	}
	/* listen: from now on the kernel itself completes clients' three-way
	 * handshakes and queues them, up to about BACKLOG, for accept. */
	if (listen(fd, BACKLOG) < 0) {
		perror("listen");
		return 1;
	}
	/* getsockname: which port we got (the kernel chose it for port 0). */
	if (getsockname(fd, (struct sockaddr *)&sin, &sinlen) < 0) {
		perror("getsockname");
		return 1;
	}
	inet_ntop(AF_INET, &sin.sin_addr, name, sizeof name);
	fprintf(stderr, "server.c: listening on %s:%d: one connection at a time\n", name, ntohs(sin.sin_port));

	for (;;) {
		/* accept blocks until the backlog holds a connection, takes it,
		 * and gives it a descriptor of its own (4); fd goes on listening. */
		peerlen = sizeof peer;
		cfd = accept(fd, (struct sockaddr *)&peer, &peerlen);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;   /* a client gave up before we took it */
			perror("accept");
			return 1;
		}
		serve(cfd);
		/* close: the kernel sends our FIN; the descriptor is free again. */
		close(cfd);
	}
}
