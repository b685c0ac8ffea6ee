package main

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
)

// startOddPeer is a server on package net that reads lines and answers
// each with reply(line), or closes the connection if reply says so. It
// serves connections until the test ends.
func startOddPeer(t *testing.T, reply func(line string) (answer string, hangUp bool)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					answer, hangUp := reply(strings.TrimSpace(line))
					if hangUp {
						return
					}
					c.Write([]byte(answer))
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// TestBenchFailsOnRepeats: replies that repeat a value are status 1,
// with a line saying so, as well as the report.
func TestBenchFailsOnRepeats(t *testing.T) {
	addr := startOddPeer(t, func(string) (string, bool) { return "  --> 0\r\n", false })
	var out, errOut bytes.Buffer
	status := run([]string{"bench", "-c", "1", "-n", "100", addr}, strings.NewReader(""), &out, &errOut)
	if status != 1 || !strings.Contains(out.String(), "NOT all different: 99 repeated") || !strings.Contains(errOut.String(), "NOT all different") {
		t.Errorf("status %d, stdout %q, stderr %q; want 1 and the repeats said", status, out.String(), errOut.String())
	}
}

// TestClientServerCloses: a server that closes the connection instead of
// answering is status 1, with a line saying so.
func TestClientServerCloses(t *testing.T) {
	addr := startOddPeer(t, func(string) (string, bool) { return "", true })
	var out, errOut bytes.Buffer
	status := run([]string{"client", addr}, strings.NewReader("5\n6\n"), &out, &errOut)
	if status != 1 || !strings.Contains(errOut.String(), "the server closed the connection") {
		t.Errorf("status %d, stderr %q; want 1 and the close said", status, errOut.String())
	}
}
