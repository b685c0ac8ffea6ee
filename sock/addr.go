package sock

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Sockaddr returns the socket address for ip and port, the Go form of C's
// struct sockaddr_in (IPv4) or struct sockaddr_in6 (IPv6). x/sys converts
// the port to network byte order (htons) when it passes the address in.
func Sockaddr(ip netip.Addr, port int) unix.Sockaddr {
	if ip.Is4() {
		return &unix.SockaddrInet4{Port: port, Addr: ip.As4()}
	}
	return &unix.SockaddrInet6{Port: port, Addr: ip.As16()}
}

// Domain returns the address family a socket for ip needs: AF_INET or
// AF_INET6.
func Domain(ip netip.Addr) int {
	if ip.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// AddrPort returns the IP address and port in sa, which is an IPv4 or IPv6
// socket address.
func AddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// String formats sa as "127.0.0.1:50007" or "[::1]:50007".
func String(sa unix.Sockaddr) string {
	if ap := AddrPort(sa); ap.IsValid() {
		return ap.String()
	}
	return fmt.Sprintf("%T", sa)
}

// SplitHostPort splits an address written "HOST:PORT", "[IPV6]:PORT",
// "HOST" or "[IPV6]" (both with defaultPort), ":PORT" (an empty HOST), or a
// bare IPv6 literal such as "::1" that cannot be read as IPV6:PORT
// ("::1:0" is refused: [::1]:0 or [::1:0]). The port is a decimal number
// from 0 to 65535.
func SplitHostPort(s string, defaultPort int) (host string, port int, err error) {
	host, portStr := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, fmt.Errorf("address %q: missing ']'", s)
		}
		host, rest := s[1:end], s[end+1:]
		if rest != "" && !strings.HasPrefix(rest, ":") {
			return "", 0, fmt.Errorf("address %q: want [IPV6]:PORT", s)
		}
		if _, err := netip.ParseAddr(host); err != nil || !strings.Contains(host, ":") {
			return "", 0, fmt.Errorf("address %q: %q is not an IPv6 address", s, host)
		}
		if rest == "" {
			return host, defaultPort, nil
		}
		portStr = rest[1:]
		return checkPort(s, host, portStr)
	case strings.Count(s, ":") > 1: // a bare IPv6 literal: its colons are not a port
		if _, err := netip.ParseAddr(s); err != nil {
			return "", 0, fmt.Errorf("address %q: write an IPv6 address with a port as [IPV6]:PORT", s)
		}
		if host, port, ok := looksLikePort(s); ok {
			return "", 0, fmt.Errorf("address %q: write [%s]:%s for address %s and port %s, or [%s] for address %s", s, host, port, host, port, s, s)
		}
		return s, defaultPort, nil
	case strings.Contains(s, ":"):
		i := strings.IndexByte(s, ':')
		host, portStr = s[:i], s[i+1:]
		return checkPort(s, host, portStr)
	}
	return host, defaultPort, nil
}

// looksLikePort says whether the IPv6 literal s could also be read as
// IPV6:PORT ("::1:0" is an address, but was likely meant as [::1]:0):
// the text after its last colon a port and the text before it an IPv6
// address. Such an address must be written in brackets.
func looksLikePort(s string) (host, port string, ok bool) {
	i := strings.LastIndexByte(s, ':')
	host, port = s[:i], s[i+1:]
	if _, _, err := checkPort(s, host, port); err != nil {
		return "", "", false
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return "", "", false
	}
	return host, port, true
}

func checkPort(s, host, portStr string) (string, int, error) {
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 || portStr[0] == '+' {
		return "", 0, fmt.Errorf("address %q: port %q is not a number from 0 to 65535", s, portStr)
	}
	return host, port, nil
}

// Resolve returns the IP addresses of host: the address itself if host is
// one, else what the system's resolver says (the part getaddrinfo plays in
// C; it is the one use of package net in fetchadd, kept off the socket
// path). The empty host is the wildcard 0.0.0.0, as in Python's bind(("", port)).
// IPv6 zones ("fe80::1%eth0") are not supported.
func Resolve(host string) ([]netip.Addr, error) {
	if host == "" {
		return []netip.Addr{netip.IPv4Unspecified()}, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return nil, fmt.Errorf("%s: IPv6 zones are not supported", host)
		}
		return []netip.Addr{ip.Unmap()}, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", host)
	if err != nil {
		return nil, err
	}
	for i := range ips {
		ips[i] = ips[i].Unmap()
	}
	return ips, nil
}
