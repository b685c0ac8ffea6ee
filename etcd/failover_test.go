package etcd_test

import (
	"bufio"
	"context"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// waitOwner waits until one of addrs owns the counter, as etcd says (two
// minutes at most: a dead owner's lease runs out first), and returns it.
func waitOwner(t *testing.T, cli *clientv3.Client, addrs ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		resp, err := cli.Get(ctx, "/fetchadd/owner/", clientv3.WithFirstCreate()...)
		if err == nil && len(resp.Kvs) > 0 && slices.Contains(addrs, string(resp.Kvs[0].Value)) {
			return string(resp.Kvs[0].Value)
		}
		if ctx.Err() != nil {
			t.Fatalf("none of %v owns the counter after two minutes (last: %v, %v)", addrs, resp, err)
		}
		if err == nil { // wait for the election to change
			w := cli.Watch(ctx, "/fetchadd/owner/", clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
			<-w
		}
	}
}

// served sends adds of d to addr, one connection at a time, until one is
// served (the owner refuses those made before it read the counter), and
// returns its reply. Ten tries at most.
func served(t *testing.T, addr, d string) string {
	t.Helper()
	var got []string
	for try := 0; try < 10; try++ {
		if got = exchange(t, addr, d); strings.HasPrefix(got[0], "  --> ") {
			return got[0]
		}
	}
	t.Fatalf("%s: ten adds refused, the last: %q", addr, got)
	return ""
}

// refusedWithin sends an add to addr on a new connection and wants it
// refused within bound: etcd has no quorum.
func refusedWithin(t *testing.T, addr string, bound time.Duration) {
	t.Helper()
	start := time.Now()
	got := exchange(t, addr, "1")
	took := time.Since(start)
	if !strings.HasPrefix(got[0], "!!!! not saved: ") {
		t.Errorf("%s, etcd without a quorum: %q, want a refusal", addr, got)
	}
	if took > bound {
		t.Errorf("%s, etcd without a quorum: refused after %v, want within %v", addr, took, bound)
	}
	t.Logf("%s, etcd without a quorum: %q after %v", addr, got[0], took.Round(time.Millisecond))
}

// TestOneMember: one etcd member, two front-ends. The owner answers and
// the standby refuses naming it; a counter past 4,300 digits is kept;
// kill -9 the owner and the standby takes over where it left off; kill
// -9 etcd under load and every add is refused, none acknowledged, until
// it is back; no value twice.
func TestOneMember(t *testing.T) {
	c := startCluster(t, 1)
	cli := c.client()
	a := startFrontend(t, c)
	waitOwner(t, cli, a.addr)
	b := startFrontend(t, c)

	if got := served(t, a.addr, "5"); got != "  --> 0" {
		t.Fatalf("the owner's first add: %q", got)
	}
	if got := exchange(t, a.addr, "x", "3"); !slices.Equal(got, []string{"!!!!", "  --> 5"}) {
		t.Fatalf("the owner: %q", got)
	}
	want := fmt.Sprintf("!!!! not saved: this server is a standby; the counter's owner is %s: send adds there (this add did not count)", a.addr)
	if got := exchange(t, b.addr, "1"); !slices.Equal(got, []string{want}) {
		t.Fatalf("the standby: %q, want %q", got, want)
	}

	// Values of any size: past 4,300 digits, read back by the next owner.
	nines := strings.Repeat("9", 4300)
	n, _ := new(big.Int).SetString(nines, 10)
	if got := exchange(t, a.addr, nines, nines); !slices.Equal(got, []string{"  --> 8", "  --> " + new(big.Int).Add(n, big.NewInt(8)).String()}) {
		t.Fatalf("adding 4,300 nines twice: %.60q", got)
	}
	a.kill()
	killed := time.Now()
	waitOwner(t, cli, b.addr)
	total := new(big.Int).Add(new(big.Int).Mul(n, big.NewInt(2)), big.NewInt(8))
	if got := served(t, b.addr, "0"); got != "  --> "+total.String() {
		t.Fatalf("the new owner's first add: %.60q, want the counter of %d digits", got, len(total.String()))
	}
	t.Logf("takeover after kill -9 of the owner: %v (lease %v)", time.Since(killed).Round(time.Millisecond), lease)

	// kill -9 the only member under load, and start it again.
	l := startLoad(t, []string{b.addr}, 4, 8)
	l.waitAcks(200, "adds through the new owner")
	l.check(cli)
	c.kill(c.members[0])
	l.setOutage(true)
	refusedWithin(t, b.addr, 15*time.Second)
	l.setOutage(false)
	c.start(c.members[0], "")
	c.waitCommits(c.members)
	l.waitAcks(200, "adds once etcd is back")
	l.end()
	l.check(cli)
}

// TestThreeMembers: three etcd members, three front-ends, clients
// pipelining adds on each. kill -9 the owner front-end, kill -9 the etcd
// leader, kill a follower, kill two members (no quorum: every add
// refused within seconds, none acknowledged), and bring each back; after
// each, adds are served again; across everything no value is received
// twice, and etcd's counter is never behind a value a client saw.
func TestThreeMembers(t *testing.T) {
	c := startCluster(t, 3)
	cli := c.client()
	var fes []*frontend
	var addrs []string
	for i := 0; i < 3; i++ {
		fes = append(fes, startFrontend(t, c))
		addrs = append(addrs, fes[i].addr)
	}
	waitOwner(t, cli, addrs...)
	l := startLoad(t, addrs, 2, 8)
	l.waitAcks(500, "adds through three front-ends")
	l.check(cli)

	// kill -9 the owner front-end; another takes over; start it again.
	i := slices.Index(addrs, owner(t, cli))
	fes[i].kill()
	killed := time.Now()
	first := l.waitAcks(200, "adds after the owner's kill -9")
	t.Logf("takeover after kill -9 of the owner: first add served %v after (lease %v)", first.Sub(killed).Round(time.Millisecond), lease)
	fes[i] = startFrontend(t, c)
	addrs[i] = fes[i].addr
	l.setAddr(i, addrs[i])
	l.check(cli)

	// kill -9 etcd's leader; start it again.
	m := c.leader(cli)
	c.kill(m)
	l.waitAcks(200, "adds after the etcd leader's kill -9")
	c.start(m, "")
	c.waitCommits(c.members)
	l.check(cli)

	// Kill a follower; start it again.
	lead := c.leader(cli)
	m = c.members[0]
	if m == lead {
		m = c.members[1]
	}
	c.kill(m)
	l.waitAcks(200, "adds with a follower down")
	c.start(m, "")
	c.waitCommits(c.members)
	l.check(cli)

	// No quorum: two of three down.
	down := []*member{c.leader(cli)}
	for _, m := range c.members {
		if m != down[0] && len(down) < 2 {
			down = append(down, m)
		}
	}
	for _, m := range down {
		c.kill(m)
	}
	l.setOutage(true)
	for _, addr := range addrs {
		refusedWithin(t, addr, 15*time.Second)
	}
	l.setOutage(false)
	for _, m := range down {
		c.start(m, "")
	}
	c.waitCommits(c.members)
	l.waitAcks(200, "adds once the quorum is back")
	l.end()
	l.check(cli)
}

// TestPausedOwner: an owner stopped (SIGSTOP, as a long pause of the
// process or its machine) past its lease, while clients pipeline adds on
// it and on the standby; the standby takes over and serves; the old
// owner, continued, still holds adds made on its old counter: its
// transactions find its election key gone, and it refuses them instead
// of writing over its successor's counter. No value is received twice.
func TestPausedOwner(t *testing.T) {
	c := startCluster(t, 1)
	cli := c.client()
	a := startFrontend(t, c)
	waitOwner(t, cli, a.addr)
	b := startFrontend(t, c)
	l := startLoad(t, []string{a.addr, b.addr}, 2, 8)
	l.waitAcks(200, "adds through the first owner")

	a.cmd.Process.Signal(syscall.SIGSTOP)
	waitOwner(t, cli, b.addr)
	l.waitAcks(200, "adds through the new owner, the old one stopped")
	a.cmd.Process.Signal(syscall.SIGCONT)
	a.waitLog("this server no longer owns the counter")
	l.waitAcks(200, "adds through the new owner, the old one continued")
	l.end()
	l.check(cli)
	if !strings.Contains(a.logs(), "election key gone") && !strings.Contains(a.logs(), "lease ran out") {
		t.Errorf("the old owner does not say why it stopped owning:\n%s", a.logs())
	}
}

// TestStopWithoutEtcd: a front-end stopped (SIGTERM) while etcd is down,
// campaigning in vain, exits within a bound: no call to etcd waits for
// an etcd that does not answer. Two cases: etcd gone before the
// front-end started, and gone while it owned the counter.
func TestStopWithoutEtcd(t *testing.T) {
	for _, when := range []string{"before", "while owning"} {
		t.Run(when, func(t *testing.T) {
			c := startCluster(t, 1)
			if when == "before" {
				c.kill(c.members[0])
			}
			a := startFrontend(t, c)
			if when != "before" {
				waitOwner(t, c.client(), a.addr)
				c.kill(c.members[0])
			}
			a.waitLog("campaigning again")
			a.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-a.exited:
			case <-time.After(30 * time.Second):
				t.Fatalf("fetchadd-etcd not gone 30 s after SIGTERM, etcd down:\n%s", a.logs())
			}
			if !strings.Contains(a.logs(), "stopped") {
				t.Errorf("fetchadd-etcd did not stop as it should:\n%s", a.logs())
			}
		})
	}
}

// TestPausedMember: an etcd follower stopped (SIGSTOP: as its machine
// lost, or cut off, which resets no connection) while the cluster keeps
// its quorum; the owner's calls that the client sends to it (round robin)
// would wait there for -timeout, every third one, as long as it is gone:
// the client's pings find the connection dead, and the owner serves
// again, a hundred adds in a row within two minutes.
func TestPausedMember(t *testing.T) {
	c := startCluster(t, 3)
	cli := c.client()
	a := startFrontend(t, c)
	waitOwner(t, cli, a.addr)
	served(t, a.addr, "0")
	m := c.members[0]
	if m == c.leader(cli) {
		m = c.members[1]
	}
	m.cmd.Process.Signal(syscall.SIGSTOP)
	defer m.cmd.Process.Signal(syscall.SIGCONT)

	conn, err := net.DialTimeout("tcp", a.addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	deadline := time.Now().Add(2 * time.Minute)
	inRow, refused := 0, 0
	for inRow < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("etcd %s stopped: no hundred adds in a row served in two minutes (%d refused; the last run %d)", m.name, refused, inRow)
		}
		conn.SetDeadline(time.Now().Add(time.Minute))
		if _, err := conn.Write([]byte("1\n")); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "  --> ") {
			inRow++
			continue
		}
		inRow = 0
		refused++
	}
	t.Logf("etcd %s stopped: a hundred adds in a row served after %d refused", m.name, refused)
}
