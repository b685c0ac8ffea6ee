package etcd_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdBinary is Debian's etcd (apt-get install etcd-server), which .ci/run
// installs: missing, the test is skipped, except in CI.
func etcdBinary(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("etcd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no etcd in PATH in CI: .ci/run installs etcd-server")
		}
		t.Skip("no etcd in PATH (Debian: apt-get install etcd-server)")
	}
	return path
}

// member is one etcd process of a test cluster, on loopback ports.
type member struct {
	name, dir    string
	client, peer string // URLs
	cmd          *exec.Cmd
	exited       chan struct{}
}

// cluster is an etcd cluster of the test's own: temporary directories,
// loopback ports; its members are killed when the test ends.
type cluster struct {
	t       *testing.T
	bin     string
	members []*member
}

// startCluster starts an n-member cluster and waits until it commits.
func startCluster(t *testing.T, n int) *cluster {
	c := &cluster{t: t, bin: etcdBinary(t)}
	var initial []string
	for i := 0; i < n; i++ {
		m := &member{name: fmt.Sprintf("m%d", i), dir: t.TempDir(),
			client: "http://" + freeAddr(t), peer: "http://" + freeAddr(t)}
		c.members = append(c.members, m)
		initial = append(initial, m.name+"="+m.peer)
	}
	for _, m := range c.members {
		c.start(m, strings.Join(initial, ","))
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			c.kill(m)
		}
	})
	c.waitCommits(c.members)
	return c
}

// freeAddr is a loopback address with a free port below the kernel's
// range for clients' ports (ip_local_port_range, 32768 and up by
// default): a member killed and started again binds its ports again,
// which a client's socket (or one in TIME_WAIT) could hold meanwhile if
// they were in that range.
func freeAddr(t *testing.T) string {
	for try := 0; try < 100; try++ {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr
		}
	}
	t.Fatal("no free port in 20000-31999 after 100 tries")
	return ""
}

// start starts m (again, on its directory, if it ran before).
func (c *cluster) start(m *member, initial string) {
	c.t.Helper()
	if initial == "" {
		var all []string
		for _, o := range c.members {
			all = append(all, o.name+"="+o.peer)
		}
		initial = strings.Join(all, ",")
	}
	logf, err := os.OpenFile(filepath.Join(m.dir, "etcd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	m.cmd = exec.Command(c.bin, "--name", m.name, "--data-dir", filepath.Join(m.dir, "data"),
		"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
		"--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer,
		"--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", "fetchadd-test",
		"--auto-compaction-mode", "revision", "--auto-compaction-retention", "10000",
		"--log-level", "warn", "--logger", "zap")
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	m.cmd.SysProcAttr = childAttr()
	if err := m.cmd.Start(); err != nil {
		c.t.Fatalf("etcd %s: %v", m.name, err)
	}
	logf.Close()
	m.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); close(exited) }(m.cmd, m.exited)
}

// kill kills m with SIGKILL, and waits for it to be gone.
func (c *cluster) kill(m *member) {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Kill()
	select {
	case <-m.exited:
	case <-time.After(time.Minute):
		c.t.Errorf("etcd %s: not gone a minute after SIGKILL", m.name)
	}
	m.cmd = nil
}

// endpoints are the members' client URLs, comma-separated.
func (c *cluster) endpoints() string {
	var urls []string
	for _, m := range c.members {
		urls = append(urls, m.client)
	}
	return strings.Join(urls, ",")
}

// client is an etcd client of the test's, closed when it ends.
func (c *cluster) client(members ...*member) *clientv3.Client {
	c.t.Helper()
	if len(members) == 0 {
		members = c.members
	}
	var urls []string
	for _, m := range members {
		urls = append(urls, m.client)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: urls, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cli.Close() })
	return cli
}

// waitCommits waits until a write through members is committed: the
// cluster has a leader and a quorum (a minute at most).
func (c *cluster) waitCommits(members []*member) {
	c.t.Helper()
	cli := c.client(members...)
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cli.Put(ctx, "/test/ready", "1")
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("etcd cluster does not commit after a minute: %v", err)
		}
	}
}

// leader is the member that leads the cluster now.
func (c *cluster) leader(cli *clientv3.Client) *member {
	c.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, m := range c.members {
			if m.cmd == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := cli.Status(ctx, m.client)
			cancel()
			if err == nil && st.Leader != 0 && st.Leader == st.Header.MemberId {
				return m
			}
		}
	}
	c.t.Fatal("no etcd leader after a minute")
	return nil
}
