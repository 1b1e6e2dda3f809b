package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/system"
)

// binRoot is where every major's binaries are seen inside the matrix's mount
// namespace, Debian's layout: /usr/lib/postgresql/MAJOR/{bin,lib,share}.
// Debian's pg_ctlcluster and pg_wrapper look there, so the profiles'
// promote commands and pg_basebackup run unchanged.
const binRoot = "/usr/lib/postgresql"

// mountBinaries lays a tmpfs over binRoot with the host's own majors bound
// back in. It runs in a private mount namespace: nothing of it is seen
// outside the matrix.
func mountBinaries(scratch string) error {
	host := filepath.Join(scratch, "host-postgresql")
	if err := os.MkdirAll(host, 0o755); err != nil {
		return err
	}
	if err := syscall.Mount(binRoot, host, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", binRoot, err)
	}
	// Read-only: nothing the matrix does may change the host's PostgreSQL.
	if err := syscall.Mount("", host, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("read-only %s: %w", host, err)
	}
	if err := syscall.Mount("tmpfs", binRoot, "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("tmpfs on %s: %w", binRoot, err)
	}
	entries, _ := os.ReadDir(host)
	dirs := map[string]string{}
	for _, e := range entries {
		dirs[e.Name()] = filepath.Join(host, e.Name())
	}
	return mountMajors(dirs)
}

// mountMajors binds each directory (major -> bin, lib, share) under binRoot.
func mountMajors(dirs map[string]string) error {
	for m, d := range dirs {
		target := filepath.Join(binRoot, m)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		if err := syscall.Mount(d, target, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s on %s: %w", d, target, err)
		}
		if err := syscall.Mount("", target, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("read-only %s: %w", target, err)
		}
	}
	return nil
}

// template is a cluster made once per major and host authentication
// method by initdb, as the profiles' create commands do; each primary
// starts from a copy (a fresh cluster costs a second of CPU).
type templates struct {
	mu   sync.Mutex
	dir  string
	made map[string]string
}

func (t *templates) get(ctx context.Context, major, authHost string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := major + "-" + authHost
	if d, ok := t.made[key]; ok {
		return d, nil
	}
	d := filepath.Join(t.dir, key)
	if err := system.MkdirOwned(d, 0o700, "postgres:postgres"); err != nil {
		return "", err
	}
	if _, err := system.Run(ctx, system.Cmd{User: "postgres", Args: []string{binRoot + "/" + major + "/bin/initdb", "-D", d,
		"--auth-local=peer", "--auth-host=" + authHost, "-E", "UTF8", "--locale=C", "--no-sync"}}); err != nil {
		return "", err
	}
	// Only for speed: none of these is a setting the provisioner manages,
	// and a standby needs none of them at its primary's value.
	f, err := os.OpenFile(filepath.Join(d, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.WriteString("\n# pgmatrix: a throwaway server\nfsync = off\nshared_buffers = 16MB\n"); err != nil {
		return "", err
	}
	t.made[key] = d
	return d, nil
}

// server is one node's PostgreSQL, run with pg_ctl as the postgres user the
// way the profile's unit runs it: the port and socket directory on the
// command line (the units' PGPORT), the configuration where the profile
// keeps it.
type server struct {
	unit             string // the unit the phases name
	binDir           string
	dataDir, confDir string
	port             int
	log              string
}

func (s *server) opts() string {
	return fmt.Sprintf("-p %d -c unix_socket_directories=%s -c config_file=%s/postgresql.conf", s.port, pg.SocketDir, s.confDir)
}

func (s *server) pgctl(ctx context.Context, args ...string) error {
	_, err := system.Run(ctx, system.Cmd{User: "postgres", Args: append([]string{s.binDir + "/pg_ctl", "-D", s.dataDir}, args...)})
	return err
}

func (s *server) running() bool { _, ok := pg.LivePostmaster(s.dataDir); return ok }

func (s *server) start(ctx context.Context) error {
	if err := s.pgctl(ctx, "-w", "-t", "120", "-l", s.log, "-o", s.opts(), "start"); err != nil {
		return fmt.Errorf("%w\n%s", err, s.logTail())
	}
	return nil
}

func (s *server) stop(ctx context.Context) error {
	if !s.running() {
		return nil
	}
	return s.pgctl(ctx, "-w", "-t", "120", "-m", "fast", "stop")
}

// logTail is the end of the server's log, for a failure's reason.
func (s *server) logTail() string {
	b, _ := os.ReadFile(s.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 6 {
		lines = lines[len(lines)-6:]
	}
	return strings.Join(lines, "\n")
}

// units answers the phases' service-manager calls for this node's serverconf
// unit with pg_ctl; any other unit is not run by the matrix.
type units struct{ s *server }

func (u units) is(name string) error {
	if name != u.s.unit {
		return fmt.Errorf("pgmatrix runs no unit %s", name)
	}
	return nil
}

func (u units) Start(ctx context.Context, name string) error {
	if err := u.is(name); err != nil || u.s.running() {
		return err
	}
	return u.s.start(ctx)
}

func (u units) Restart(ctx context.Context, name string) error {
	if err := u.is(name); err != nil {
		return err
	}
	if err := u.s.stop(ctx); err != nil {
		return err
	}
	return u.s.start(ctx)
}

func (u units) Stop(ctx context.Context, name string) error {
	if err := u.is(name); err != nil {
		return err
	}
	return u.s.stop(ctx)
}

func (u units) Reload(ctx context.Context, name string) error {
	if err := u.is(name); err != nil {
		return err
	}
	return u.s.pgctl(ctx, "reload")
}

func (u units) Enqueue(ctx context.Context, name string) error { return u.Start(ctx, name) }
func (u units) Enable(context.Context, ...string) error        { return nil }
func (u units) Disable(context.Context, ...string) error       { return nil }
func (u units) DaemonReload(context.Context) error             { return nil }

func (u units) ActiveState(_ context.Context, name string) (string, error) {
	if err := u.is(name); err != nil {
		return "", err
	}
	if u.s.running() {
		return "active", nil
	}
	return "inactive", nil
}

func (u units) Loaded(_ context.Context, name string) (bool, error) { return name == u.s.unit, nil }

func (u units) UnitFileState(_ context.Context, name string) (string, error) {
	if err := u.is(name); err != nil {
		return "", err
	}
	return "enabled", nil
}

var _ system.Units = units{}

// nextPort hands out the servers' ports from below the kernel's ephemeral
// range (32768 and up by default): a port picked there may be taken by a
// replication client's own end before its server starts.
var nextPort = struct {
	sync.Mutex
	p int
}{p: 20000 + int(time.Now().UnixNano()%5000)}

// freePort returns a port nothing listens on, on any address (a primary
// listens on '*'), and that no other node of the matrix was given.
func freePort() (int, error) {
	nextPort.Lock()
	defer nextPort.Unlock()
	for tries := 0; tries < 1000; tries++ {
		nextPort.p++
		if nextPort.p >= 32000 {
			nextPort.p = 20000
		}
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", nextPort.p))
		if err != nil {
			continue
		}
		l.Close()
		return nextPort.p, nil
	}
	return 0, errors.New("no free port between 20000 and 32000")
}

// copyTree copies a directory with cp -a (ownership and modes kept).
func copyTree(src, dst string) error {
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp -a %s %s: %v: %s", src, dst, err, out)
	}
	return nil
}
