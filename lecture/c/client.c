/*
 * client.c: the handout's terminal program with its counter on a
 * fetch-and-add server: it prompts, reads a number from stdin, sends it,
 * and prints the server's reply. Read it beside ../go/client/client.go,
 * ../python/client.py and fetchadd's ../../client/dial.go.
 *
 *     cc -Wall -Wextra -O2 -o client client.c     (or: make peers)
 *     ./client HOST PORT        HOST: a name or an address, IPv4 or IPv6
 */
#include <errno.h>
#include <netdb.h>       /* getaddrinfo */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/* dial connects to host and port: getaddrinfo turns them into addresses
 * (a name may have several, IPv6 and IPv4), and each is tried in turn. */
static int dial(const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, err, saved = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;      /* IPv4 or IPv6 */
	hints.ai_socktype = SOCK_STREAM;  /* TCP */
	if ((err = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "client.c: %s %s: %s\n", host, port, gai_strerror(err));
		exit(1);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		/* socket: ai_protocol is IPPROTO_TCP here, where a server
		 * passes 0 (the default protocol of SOCK_STREAM: TCP too). */
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		/* connect: the kernel picks a local port, sends SYN, and
		 * returns when the handshake is done (or refused: RST). */
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fprintf(stderr, "client.c: connect to %s %s: %s\n", host, port, strerror(saved));
		exit(1);
	}
	return fd;
}

/* next_byte returns the next byte the server sent, or -1 at the end. A
 * read takes whatever has arrived, so bytes are kept for the next call. */
static int next_byte(int fd)
{
	static char buf[4096];
	static ssize_t pos, len;
	if (pos == len) {
		len = read(fd, buf, sizeof buf);
		pos = 0;
		if (len <= 0) {
			len = 0;
			return -1;
		}
	}
	return (unsigned char)buf[pos++];
}

int main(int argc, char **argv)
{
	char *line = NULL;
	size_t cap = 0, off;
	ssize_t n, w;
	int fd, c, cr;

	if (argc != 3) {
		fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
		return 2;
	}
	fd = dial(argv[1], argv[2]);
	signal(SIGPIPE, SIG_IGN);   /* a server gone: write fails with EPIPE */

	for (;;) {
		fputs("Enter next number: ", stdout);
		fflush(stdout);
		if ((n = getline(&line, &cap, stdin)) < 0)
			break;              /* end of input */
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if (cap < (size_t)n + 2 && (line = realloc(line, cap = (size_t)n + 2)) == NULL) {
			perror("realloc");
			return 1;
		}
		line[n++] = '\r';       /* CRLF, the 1980s' end of line */
		line[n++] = '\n';
		/* write: the line in one call (two small writes could wait
		 * for each other: Nagle's algorithm). write may take less. */
		for (off = 0; off < (size_t)n; off += (size_t)w) {
			if ((w = write(fd, line + off, (size_t)n - off)) < 0) {
				perror("client.c: write");
				return 1;
			}
		}
		/* The reply, up to its LF, printed without the CR. */
		cr = 0;
		while ((c = next_byte(fd)) != '\n') {
			if (c < 0) {
				fprintf(stderr, "\nclient.c: the server closed the connection\n");
				return 1;
			}
			if (cr)
				putchar('\r');
			cr = c == '\r';
			if (!cr)
				putchar(c);
		}
		putchar('\n');
	}
	/* shutdown(SHUT_WR): our FIN, "no more lines"; the server's read
	 * returns 0. close frees the descriptor. */
	shutdown(fd, SHUT_WR);
	close(fd);
	free(line);
	return 0;
}
