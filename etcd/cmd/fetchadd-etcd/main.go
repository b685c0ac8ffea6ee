// Command fetchadd-etcd serves fetchadd's protocol, as "fetchadd serve"
// does, with the counter in etcd: run one on each of several machines,
// all on the same etcd cluster. One of them owns the counter (an etcd
// election) and answers adds; the others refuse them, naming the owner,
// and take over within about two lease periods if it dies.
//
//	fetchadd-etcd -endpoints 10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379 -addr 0.0.0.0:50007 -advertise 10.0.0.4:50007
//
// docs/etcd.md, in the repository, is for operators. Exit status: 0
// stopped by a signal, 1 failed, 2 bad command line.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"fetchadd/etcd"
	"fetchadd/fetchadd"
	"fetchadd/server"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

// run is the command, with its arguments and where it logs.
func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("fetchadd-etcd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", fetchadd.DefaultAddr, "listen on `HOST:PORT` (port 0: any free port)")
	advertise := fs.String("advertise", "", "the `HOST:PORT` clients reach this server at, which standbys name in their refusals (default: -addr, as it listens)")
	mode := fs.String("mode", server.Event, "how to serve: `MODE` iterative, threaded, poll, event or uring")
	loops := fs.Int("loops", 0, "event and uring modes: how many event loops, `N` (0: one per CPU)")
	maxConns := fs.Int("max-conns", 0, "`N` connections served at once (0: the mode's default)")
	idle := fs.Duration("idle", server.DefaultIdle, "close a connection quiet for `DURATION`; 0: never")
	endpoints := fs.String("endpoints", "127.0.0.1:2379", "etcd's client `URLS`, comma-separated (HOST:PORT or http://HOST:PORT)")
	prefix := fs.String("prefix", "/fetchadd", "etcd key `PREFIX`: PREFIX/counter holds the counter, PREFIX/owner/ the election")
	lease := fs.Duration("lease", 3*time.Second, "the election's lease (whole seconds): an owner that dies is replaced about this long after")
	timeout := fs.Duration("timeout", time.Second, "a batch whose transaction takes longer is refused, and the counter read again")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || *lease < time.Second || *timeout <= 0 {
		fmt.Fprintf(stderr, "fetchadd-etcd: want flags only, -lease of 1s or more, -timeout above 0 (-h for help)\n")
		return 2
	}
	logger := log.New(stderr, "fetchadd-etcd: ", log.LstdFlags)
	cfg := server.Config{Mode: *mode, Loops: *loops, MaxConns: *maxConns, Idle: *idle, Log: logger}
	if err := server.CheckConfig(cfg); err != nil {
		fmt.Fprintf(stderr, "fetchadd-etcd: %v\n", err)
		return 2
	}
	listenAddr, err := server.ResolveAddr(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "fetchadd-etcd: -addr: %v\n", err)
		return 2
	}
	cfg.Addr = listenAddr
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   strings.Split(*endpoints, ","),
		DialTimeout: *timeout,
		// A member cut off or paused, or its machine gone, resets nothing:
		// without pings its connection stays up, and every third call,
		// round robin, waits there for -timeout. gRPC's least: 10s.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: *timeout,
		Logger:               zap.NewNop(), // failures are said by the refusals and this log
	})
	if err != nil {
		fmt.Fprintf(stderr, "fetchadd-etcd: etcd client: %v\n", err)
		return 1
	}
	defer cli.Close()

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	store := etcd.New(cli, etcd.Options{Prefix: *prefix, Lease: *lease, Timeout: *timeout, Logger: logger})
	cfg.Store = store.Group()
	srv, err := server.Listen(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "fetchadd-etcd: %v\n", err)
		return 1
	}
	srv.SpareP() // a P for each loop that waits raw, and one for the rest (etcd's client among it), as fetchadd serve does
	me := srv.Addr().String()
	switch {
	case *advertise != "":
		me = *advertise
	case srv.Addr().Addr().IsUnspecified():
		logger.Printf("standbys will name this server %s to clients: give -advertise HOST:PORT, the address they reach it at", me)
	}
	logger.Printf("%s server listening on %s, counter in etcd at %s%s (lease %v, timeout %v)", srv.Mode(), srv.Addr(), *endpoints, *prefix+"/counter", *lease, *timeout)
	store.Start(me)
	defer store.Close() // after the server: a standby takes over at once

	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	select {
	case err = <-served:
	case sig := <-signals:
		logger.Printf("%v: stopping (again to quit at once)", sig)
		srv.Stop()
		select {
		case err = <-served:
		case sig := <-signals:
			logger.Printf("%v again: exiting at once", sig)
			return 128 + int(sig.(syscall.Signal))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "fetchadd-etcd: %v\n", err)
		return 1
	}
	logger.Printf("stopped")
	return 0
}
