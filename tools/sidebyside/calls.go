package main

// From a server's strace lines to the lab's calls, and each call to its
// step of the lab.

import (
	"regexp"
	"strings"
)

var (
	pidPrefix  = regexp.MustCompile(`^(\[pid +\d+\] |\d+ +)`)
	unfinished = regexp.MustCompile(` <unfinished \.\.\.>$`)
	resumed    = regexp.MustCompile(`^<\.\.\. (\w+) resumed>`)
	onTCP      = regexp.MustCompile(`^\w+\(\d+<TCP|= \d+<TCP|^\w+\(\[\{fd=\d+<TCP`)
	tcpNote    = regexp.MustCompile(`(\d+)<TCP(?:v6)?:\[.*?\]>`)
	pollResult = regexp.MustCompile(`\) = (\d+) \(.*\)$`)
	result     = regexp.MustCompile(`\) += `)
	sockaddr4  = regexp.MustCompile(`\{sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]*)"\)\}`)
	sockaddr6  = regexp.MustCompile(`\{sa_family=AF_INET6, sin6_port=htons\((\d+)\), sin6_flowinfo=htonl\(\d+\), inet_pton\(AF_INET6, "([^"]*)", &sin6_addr\), sin6_scope_id=\d+\}`)
	callLine   = regexp.MustCompile(`^\w+\(.*\) += `)
	acceptedFd = regexp.MustCompile(`^accept4?\(.*\) = (\d+)$`)
)

// labCalls picks the lab's calls out of strace's lines (or -trace's): it
// joins a call that strace split around another thread's, keeps the calls
// on TCP sockets (strace -yy marks them; the runtimes' own reads of files,
// loader and log writes are on other descriptors), leaves out x/sys's
// SO_PROTOCOL questions, and stops at the close of the first connection.
// Each call is shortened: no descriptor notes, sockaddrs as {AF_INET,
// ADDR:PORT}.
func labCalls(lines []string, fromStrace bool) []string {
	pending := map[string]string{}
	var calls []string
	conn := ""
	for _, line := range lines {
		pid := pidPrefix.FindString(line)
		line = strings.TrimSpace(strings.TrimPrefix(line, pid))
		if line == "" {
			continue
		}
		if unfinished.MatchString(line) {
			first := unfinished.ReplaceAllString(line, "")
			if i := strings.IndexByte(first, '('); i > 0 {
				pending[pid+first[:i]] = first
			}
			continue
		}
		if m := resumed.FindStringSubmatch(line); m != nil {
			line = pending[pid+m[1]] + line[len(m[0]):]
		}
		if fromStrace && !onTCP.MatchString(line) || !fromStrace && (!callLine.MatchString(line) || strings.HasPrefix(line, "pipe")) {
			continue // not a socket's (the server's stop pipe), or (-trace) a log line
		}
		if strings.HasSuffix(line, "= ?") || strings.Contains(line, "= ? ") || strings.Contains(line, "SO_PROTOCOL") {
			continue
		}
		if strings.Contains(line, "= -1 EINTR") {
			continue // interrupted by a signal (Go's preemption, under load) and made again: one call
		}
		line = shorten(line)
		calls = append(calls, line)
		if m := acceptedFd.FindStringSubmatch(line); m != nil && conn == "" {
			conn = m[1]
		}
		if conn != "" && strings.HasPrefix(line, "close("+conn+")") {
			break
		}
	}
	return calls
}

func shorten(line string) string {
	line = tcpNote.ReplaceAllString(line, "$1")
	line = result.ReplaceAllString(line, ") = ")
	line = sockaddr4.ReplaceAllString(line, "{AF_INET, $2:$1}")
	line = sockaddr6.ReplaceAllString(line, "{AF_INET6, [$2]:$1}")
	if strings.HasPrefix(line, "poll") || strings.HasPrefix(line, "ppoll") {
		line = pollResult.ReplaceAllString(line, ") = $1") // not which fds, nor the time left
	}
	return line
}

// steps names the step of the lab each call makes.
func steps(calls []string) []string {
	var s []string
	accepted := false
	for _, c := range calls {
		key := step(c)
		if key == "accept" {
			accepted = true
		}
		if key == "getsockname" && accepted {
			key = "check" // Python's, on the new connection
		}
		s = append(s, key)
	}
	return s
}

// labOrder is the lab's steps, in order, that calls make: the steps
// every server has (not Go's options and waits, nor Python's check).
func labOrder(calls []string) []string {
	var lab []string
	for _, k := range steps(calls) {
		if k != "option" && k != "check" && k != "wait" {
			lab = append(lab, k)
		}
	}
	return lab
}

func step(call string) string {
	name := call
	if i := strings.IndexByte(call, '('); i > 0 {
		name = call[:i]
	}
	switch name {
	case "socket", "bind", "listen", "getsockname", "close", "shutdown":
		return name
	case "setsockopt":
		if strings.Contains(call, "SO_REUSEADDR") {
			return "SO_REUSEADDR"
		}
		return "option"
	case "accept", "accept4":
		return "accept"
	case "read", "recv", "recvfrom":
		if strings.HasSuffix(call, ") = 0") {
			return "end"
		}
		return "request"
	case "write", "send", "sendto":
		return "reply"
	case "poll", "ppoll":
		return "wait"
	}
	return name
}

// stepLabel says what each step is, in the words of docs/lab-3-calls.md's table.
var stepLabel = map[string]string{
	"socket":       "make a socket",
	"SO_REUSEADDR": "quick restart",
	"bind":         "name it",
	"listen":       "listen",
	"getsockname":  "which port?",
	"accept":       "take a client",
	"option":       "(an option)",
	"check":        "(a socket?)",
	"wait":         "(wait, -idle)",
	"request":      "read a line",
	"reply":        "reply",
	"end":          "client gone",
	"shutdown":     "shutdown",
	"close":        "hang up",
}
