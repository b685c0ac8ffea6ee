/*
 * epoll_server.c: the fetch-and-add server as a plain C event loop, the
 * yardstick for fetchadd's event mode ("speed of light": what one thread,
 * level-triggered epoll and non-blocking sockets cost for this protocol,
 * with nothing else in the way). Read it beside server.c (the lab's
 * iterative server, whose protocol it keeps byte for byte) and the Go
 * event loop (../../server/loop.go). make compare measures both.
 *
 *     cc -Wall -Wextra -O2 -o epoll_server epoll_server.c   (or: make peers)
 *     ./epoll_server [HOST] PORT   HOST: an IPv4 address (127.0.0.1);
 *                                  PORT 0: any free port (it says which)
 *
 * Linux only (epoll, accept4). The protocol is server.c's: each LF-ended
 * line gets "  --> OLD" (the counter before the add) or "!!!!", with
 * CRLF, in order, however the lines are cut into reads; parse() is
 * server.c's, copied, so a long long and strtoll differ from Python's
 * int() (and the Go server's) exactly where server.c does. Each row is
 * checked by TestCEpollServerDifferences in ../../lecture_test.go:
 *
 *   what                  sent                      C: this server          Go and Python
 *   number past int64     9223372036854775808       !!!! (strtoll: ERANGE)  the number: any size
 *   counter past int64    9223372036854775807, 1    !!!!: 1 is not added    goes on past int64
 *   counter below int64   -9223372036854775808, -1  !!!!: -1 is not added   goes on below int64
 *   underscores           1_000                     !!!! (strtoll stops)    1000, as int()
 *   over 4300 digits      4301 zeros, then 7        adds 7                  !!!! (Python's limit)
 *
 * Everywhere else its replies are the Go server's, byte for byte
 * (TestCEpollServerGolden), also pipelined from many clients at once
 * (TestCEpollServerConcurrent).
 *
 * How it differs from server.c, and why:
 *
 *   server.c (the lab's)              epoll_server.c                   why
 *   one client at a time              every client at once, 1 thread   the event loop
 *   blocking accept, read, write      non-blocking; waits in           nothing blocks but the wait
 *                                     epoll_wait, level-triggered
 *   listen(fd, 1)                     listen(fd, 4096)                 a burst of connects waits
 *   accept, one a wake-up             accept4 until EAGAIN,            one wake-up for a burst
 *                                     SOCK_NONBLOCK|SOCK_CLOEXEC
 *   Nagle on                          TCP_NODELAY                      replies leave at once
 *   write until all is sent           one write per read; the rest     a slow reader holds up
 *                                     waits for EPOLLOUT               nobody else
 *   a client that does not read:      stops reading that client while  its replies cannot fill
 *   blocks in write, everyone waits   over 64 KiB of its replies wait  the server's memory
 *   one static line buffer            a line buffer per connection,    10,000 idle connections
 *                                     made when a line spans reads     cost no buffers
 *   snprintf("  --> %lld")            put_reply: digits by hand        no format string to read
 *                                                                      for each reply
 *
 * One read of 64 KiB per readiness event (level-triggered: more waiting
 * is reported again by the next epoll_wait, and no read is spent on
 * EAGAIN), every complete line answered into one buffer, one write for
 * all of them; epoll_ctl only when what a connection waits for changes.
 * A client's end of stream answers its last line without LF (as
 * server.c and the Go server do), sends what is left, and closes. A
 * client that resets (ECONNRESET, EPIPE, EPOLLERR, EPOLLHUP) is closed;
 * SIGPIPE is ignored. Out of descriptors, it stops accepting for 100 ms
 * (level-triggered epoll would otherwise report the listening socket
 * again at once, a busy loop), as the Go server does.
 */
#define _GNU_SOURCE      /* accept4 */
#include <arpa/inet.h>   /* inet_pton, inet_ntop, htons */
#include <ctype.h>       /* isspace */
#include <errno.h>
#include <limits.h>      /* LLONG_MAX, LLONG_MIN */
#include <netinet/in.h>  /* struct sockaddr_in */
#include <netinet/tcp.h> /* TCP_NODELAY */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>        /* clock_gettime */
#include <unistd.h>      /* read, write, close */

#define MAXLINE 16384         /* bytes before the LF; a longer line is "!!!!" (server.c's) */
#define BACKLOG 4096
#define READSIZE 65536        /* one read per readiness event */
#define MAXPEND 65536         /* unsent replies past which a client is not read */
#define REPLYMAX 28           /* "  --> -9223372036854775808\r\n" */
#define MAXEVENTS 256
#define ACCEPT_PAUSE_MS 100

/* One read's replies: a read of READSIZE bytes ends at most one line
 * carried over from earlier reads and READSIZE / 2 more ("0\n" each),
 * each reply at most REPLYMAX bytes. So put_reply never checks room. */
#define OUTSIZE ((READSIZE / 2 + 1) * REPLYMAX)

struct conn {
	int fd;
	unsigned events;      /* what epoll watches for now: EPOLLIN, EPOLLOUT */
	int eof;              /* the client has closed its side: read no more */
	int too_long;         /* the line passed MAXLINE: drop it to its LF */
	size_t linelen;       /* bytes of an unfinished line, kept in line */
	char *line;           /* MAXLINE + 1 (room for a NUL), made when first needed */
	char *pend;           /* replies write did not take, sent on EPOLLOUT */
	size_t pendoff, pendlen, pendcap;
};

static long long counter;          /* one counter for the server's life */
static int ep;                     /* the epoll instance */
static char rbuf[READSIZE];        /* what read returns, for every connection */
static char out[OUTSIZE];          /* one read's replies, before they are sent */
static size_t outlen;

/* parse reads a line (len bytes, no LF, room for a NUL after it) as a
 * number: whitespace around it, a sign, decimal digits, in range.
 * Copied from server.c, unchanged: the two servers must agree. */
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

/* put_reply appends "  --> V\r\n" to out. */
static void put_reply(long long v)
{
	char digits[20], *d = digits + sizeof digits;
	/* the magnitude as unsigned: -LLONG_MIN does not fit a long long */
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	size_t n;

	do {
		*--d = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	memcpy(out + outlen, "  --> ", 6);
	outlen += 6;
	if (v < 0)
		out[outlen++] = '-';
	n = (size_t)(digits + sizeof digits - d);
	memcpy(out + outlen, d, n);
	outlen += n;
	out[outlen++] = '\r';
	out[outlen++] = '\n';
}

/* reply appends the answer to one line to out: server.c's reply. */
static void reply(char *line, size_t len, int too_long)
{
	long long incr;
	if (too_long || parse(line, len, &incr) < 0 ||
	    (incr > 0 && counter > LLONG_MAX - incr) ||
	    (incr < 0 && counter < LLONG_MIN - incr)) {
		memcpy(out + outlen, "!!!!\r\n", 6);
		outlen += 6;
		return;
	}
	put_reply(counter);
	counter += incr;
}

/* keep adds n bytes to the connection's unfinished line; past MAXLINE
 * the line is too long, and its bytes are dropped as they come. */
static int keep(struct conn *c, const char *p, size_t n)
{
	if (c->too_long)
		return 0;
	if (c->linelen + n > MAXLINE) {
		c->too_long = 1;
		return 0;
	}
	if (c->line == NULL && (c->line = malloc(MAXLINE + 1)) == NULL)
		return -1;
	memcpy(c->line + c->linelen, p, n);
	c->linelen += n;
	return 0;
}

/* answer answers every line that ends in buf, and keeps what follows the
 * last LF. A line that is all in buf is parsed where it is (its LF is the
 * room parse needs for a NUL): no copy. */
static int answer(struct conn *c, char *buf, size_t n)
{
	char *p = buf, *end = buf + n, *nl;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return keep(c, p, (size_t)(end - p));
		if (c->linelen == 0 && !c->too_long) {
			reply(p, (size_t)(nl - p), nl - p > MAXLINE);
		} else {             /* the end of a line begun in an earlier read */
			if (keep(c, p, (size_t)(nl - p)) < 0)
				return -1;
			reply(c->line, c->linelen, c->too_long);
			c->linelen = 0;
			c->too_long = 0;
		}
		p = nl + 1;
	}
	return 0;
}

static void close_conn(struct conn *c)
{
	close(c->fd);   /* epoll forgets a descriptor when it is closed: no EPOLL_CTL_DEL */
	free(c->line);
	free(c->pend);
	free(c);
}

/* send_some writes what the socket takes now: the bytes written (0 when
 * it is full), or -1 when the client has gone (EPIPE, ECONNRESET). */
static ssize_t send_some(int fd, const char *p, size_t n)
{
	ssize_t w;
	do
		w = write(fd, p, n);
	while (w < 0 && errno == EINTR);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return w;
}

/* queue keeps n bytes of replies to send when the socket has room. */
static int queue(struct conn *c, const char *p, size_t n)
{
	if (c->pendoff > 0 && c->pendlen + n > c->pendcap) {   /* make room at the front */
		memmove(c->pend, c->pend + c->pendoff, c->pendlen - c->pendoff);
		c->pendlen -= c->pendoff;
		c->pendoff = 0;
	}
	if (c->pendlen + n > c->pendcap) {
		size_t cap = c->pendcap ? c->pendcap : 4096;
		char *np;
		while (cap < c->pendlen + n)
			cap *= 2;
		if ((np = realloc(c->pend, cap)) == NULL)
			return -1;
		c->pend = np;
		c->pendcap = cap;
	}
	memcpy(c->pend + c->pendlen, p, n);
	c->pendlen += n;
	return 0;
}

/* flush_pending sends what waits, as far as the socket takes it. */
static int flush_pending(struct conn *c)
{
	ssize_t w = send_some(c->fd, c->pend + c->pendoff, c->pendlen - c->pendoff);
	if (w < 0)
		return -1;
	c->pendoff += (size_t)w;
	if (c->pendoff == c->pendlen) {
		c->pendoff = c->pendlen = 0;
		if (c->pendcap > MAXPEND) {   /* a burst is over: give its memory back */
			free(c->pend);
			c->pend = NULL;
			c->pendcap = 0;
		}
	}
	return 0;
}

/* read_and_answer does one read, answers its lines and sends the replies
 * in one write. What the socket does not take waits in pend. */
static int read_and_answer(struct conn *c)
{
	ssize_t n, w;

	do
		n = read(c->fd, rbuf, sizeof rbuf);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;   /* ECONNRESET: gone */
	outlen = 0;
	if (n == 0) {
		c->eof = 1;
		if (c->linelen > 0 || c->too_long)   /* a last line without LF */
			reply(c->line, c->linelen, c->too_long);
	} else if (answer(c, rbuf, (size_t)n) < 0) {
		return -1;
	}
	if (outlen == 0)
		return 0;
	if (c->pendlen > 0)   /* the socket was full: EPOLLOUT sends these after the others */
		return queue(c, out, outlen);
	if ((w = send_some(c->fd, out, outlen)) < 0)
		return -1;
	if ((size_t)w < outlen)
		return queue(c, out + w, outlen - (size_t)w);
	return 0;
}

/* watch tells epoll what the connection waits for now, if that changed:
 * to read, unless it is at its end or has too many replies unsent; to
 * write, while replies wait. */
static int watch(struct conn *c)
{
	size_t unsent = c->pendlen - c->pendoff;
	unsigned want = (!c->eof && unsent <= MAXPEND ? EPOLLIN : 0) | (unsent > 0 ? EPOLLOUT : 0);
	struct epoll_event ev;

	if (want == c->events)
		return 0;
	memset(&ev, 0, sizeof ev);
	ev.events = want;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		return -1;
	c->events = want;
	return 0;
}

/* serve handles one readiness event of a connection. */
static void serve(struct conn *c, unsigned events)
{
	if (events & (EPOLLERR | EPOLLHUP)) {   /* reset: nothing can reach the client */
		close_conn(c);
		return;
	}
	if ((events & EPOLLOUT) && flush_pending(c) < 0) {
		close_conn(c);
		return;
	}
	if ((events & EPOLLIN) && (c->events & EPOLLIN) && read_and_answer(c) < 0) {
		close_conn(c);
		return;
	}
	if (c->eof && c->pendlen == c->pendoff) {   /* all answered and sent */
		close_conn(c);
		return;
	}
	if (watch(c) < 0) {
		perror("epoll_ctl");
		close_conn(c);
	}
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long accept_resume;   /* out of descriptors: accept again then (0: accepting) */

/* accept_all takes every connection the backlog holds. */
static void accept_all(int lfd)
{
	struct epoll_event ev;
	struct conn *c;
	int cfd, one = 1;

	for (;;) {
		cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			switch (errno) {
			case EAGAIN:
#if EWOULDBLOCK != EAGAIN
			case EWOULDBLOCK:
#endif
				return;   /* the backlog is empty */
			case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
				/* stop watching the listening socket for a while:
				 * waiting clients stay in the backlog */
				fprintf(stderr, "epoll_server.c: accept4: %s: pausing %d ms\n", strerror(errno), ACCEPT_PAUSE_MS);
				memset(&ev, 0, sizeof ev);
				epoll_ctl(ep, EPOLL_CTL_MOD, lfd, &ev);
				accept_resume = now_ms() + ACCEPT_PAUSE_MS;
				return;
			case EINTR: case ECONNABORTED:   /* a client gave up before we took it */
			case EPROTO: case ENOPROTOOPT: case EHOSTDOWN: case ENONET:
			case EHOSTUNREACH: case EOPNOTSUPP: case ENETDOWN: case ENETUNREACH:
				continue;   /* accept(2): errors of the network, treat as a retry */
			default:
				perror("accept4");
				exit(1);
			}
		}
		/* small replies must leave at once, not wait for the last ACK */
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if ((c = calloc(1, sizeof *c)) == NULL) {
			close(cfd);
			continue;
		}
		c->fd = cfd;
		c->events = EPOLLIN;
		memset(&ev, 0, sizeof ev);
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev) < 0) {
			perror("epoll_ctl");
			close_conn(c);
		}
	}
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *port;
	struct sockaddr_in sin;
	socklen_t sinlen = sizeof sin;
	struct epoll_event ev, events[MAXEVENTS];
	char name[INET_ADDRSTRLEN], *end;
	int fd, one = 1, n, i;
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
	sin.sin_port = htons((unsigned short)p);
	if (*port == '\0' || *end != '\0' || p < 0 || p > 65535 ||
	    inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		fprintf(stderr, "epoll_server.c: want an IPv4 address and a port from 0 to 65535, got %s %s\n", host, port);
		return 2;
	}

	/* A write to a client that has gone fails with EPIPE instead of
	 * killing the server. */
	signal(SIGPIPE, SIG_IGN);

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		perror("socket");
		return 1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
		perror("setsockopt");
		return 1;
	}
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		perror("bind");
		return 1;
	}
	if (listen(fd, BACKLOG) < 0) {
		perror("listen");
		return 1;
	}
	if (getsockname(fd, (struct sockaddr *)&sin, &sinlen) < 0) {
		perror("getsockname");
		return 1;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("epoll_create1");
		return 1;
	}
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;   /* NULL: the listening socket; otherwise a struct conn */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		perror("epoll_ctl");
		return 1;
	}
	inet_ntop(AF_INET, &sin.sin_addr, name, sizeof name);
	fprintf(stderr, "epoll_server.c: listening on %s:%d: one thread, level-triggered epoll\n", name, ntohs(sin.sin_port));

	for (;;) {
		n = epoll_wait(ep, events, MAXEVENTS, accept_resume ? ACCEPT_PAUSE_MS : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (events[i].data.ptr == NULL)
				accept_all(fd);
			else
				serve(events[i].data.ptr, events[i].events);
		}
		if (accept_resume && now_ms() >= accept_resume) {
			accept_resume = 0;
			memset(&ev, 0, sizeof ev);
			ev.events = EPOLLIN;
			epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
		}
	}
}
