// Package pgtest starts a throwaway real PostgreSQL instance for tests: initdb
// into a temporary directory as the postgres user, a private socket directory,
// a free port on 127.0.0.1.
package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"xroad-appliance/provisioner/system"
	"xroad-appliance/test/freeport"
)

// Instance is a running PostgreSQL.
type Instance struct {
	Port    int
	Socket  string
	DataDir string
}

// BinDir finds the PostgreSQL server binaries.
func BinDir(t testing.TB) string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(matches) == 0 {
		t.Skip("PostgreSQL server not installed")
	}
	return filepath.Dir(matches[len(matches)-1])
}

// Access is what pg_hba.conf starts with and what pg_ident.conf holds.
type Access struct{ HBA, Ident string }

// Start runs initdb and postgres as the postgres user; conf lines are appended
// to postgresql.conf. The instance is stopped when the test ends.
func Start(t testing.TB, access Access, conf ...string) *Instance {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run PostgreSQL as the postgres user")
	}
	bin := BinDir(t)
	data, sock := instanceDirs(t, "pgtest-")
	runAs(t, bin+"/initdb", "-D", data, "--auth-local=peer", "--auth-host=scram-sha-256", "-U", "postgres")
	prependFile(t, filepath.Join(data, "pg_hba.conf"), access.HBA)
	prependFile(t, filepath.Join(data, "pg_ident.conf"), access.Ident)
	port := freeport.Loopback(t)
	extra := fmt.Sprintf("port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n%s\n", port, sock, strings.Join(conf, "\n"))
	f, _ := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(extra)
	f.Close()
	runAs(t, bin+"/pg_ctl", "-D", data, "-w", "-l", filepath.Join(data, "log"), "start")
	t.Cleanup(func() {
		exec.Command("su", "postgres", "-s", "/bin/sh", "-c", bin+"/pg_ctl -D "+data+" -m fast stop").Run()
	})
	return &Instance{Port: port, Socket: sock, DataDir: data}
}

func runAs(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command("su", "postgres", "-s", "/bin/sh", "-c", strings.Join(args, " "))
	cmd.Dir = "/tmp"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

// ServerLog returns the server's log so far.
func (i *Instance) ServerLog(t testing.TB) string {
	b, _ := os.ReadFile(filepath.Join(i.DataDir, "log"))
	return string(b)
}

func prependFile(t testing.TB, path, text string) {
	if text == "" {
		return
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append([]byte(strings.TrimRight(text, "\n")+"\n"), old...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// SQL runs statements as the postgres superuser over the socket in database db
// and returns psql's unaligned, tuples-only output.
func (i *Instance) SQL(t testing.TB, db, sql string) string {
	t.Helper()
	cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(BinDir(t), "psql"),
		"-X", "-qtA", "-v", "ON_ERROR_STOP=1", "-h", i.Socket, "-p", fmt.Sprint(i.Port), "-d", db)
	cmd.Dir = "/tmp"
	cmd.Stdin = strings.NewReader(sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql %s: %v\n%s", db, err, out)
	}
	return strings.TrimSpace(string(out))
}

// CreateLogin creates a password login role and a database it owns, both named name.
func (i *Instance) CreateLogin(t testing.TB, name, password string) {
	t.Helper()
	q := strings.ReplaceAll(password, "'", "''")
	i.SQL(t, "postgres", fmt.Sprintf("CREATE ROLE %q LOGIN PASSWORD '%s';\nCREATE DATABASE %q OWNER %q;\n", name, q, name, name))
}

// StartStandby takes a base backup of primary as user, a REPLICATION role
// that primary's pg_hba.conf lets in over its socket, and starts it as a hot
// standby streaming from primary with application_name set to application.
// pg_hba.conf and pg_ident.conf come with the backup. The standby is stopped
// when the test ends.
func StartStandby(t testing.TB, primary *Instance, user, application string) *Instance {
	t.Helper()
	bin := BinDir(t)
	data, sock := instanceDirs(t, "pgtest-standby-")
	runAs(t, bin+"/pg_basebackup", "-D", data, "-h", primary.Socket, "-p", fmt.Sprint(primary.Port), "-U", user, "-X", "stream", "--no-sync", "--checkpoint=fast")
	if err := system.WriteFile(filepath.Join(data, "standby.signal"), nil, 0o600, "postgres:postgres"); err != nil {
		t.Fatal(err)
	}
	port := freeport.Loopback(t)
	conninfo := fmt.Sprintf("host=%s port=%d user=%s application_name=%s", primary.Socket, primary.Port, user, application)
	// Later lines win over the primary's port and socket copied with the backup.
	extra := fmt.Sprintf("port = %d\nunix_socket_directories = '%s'\nprimary_conninfo = '%s'\nhot_standby = on\n", port, sock, conninfo)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(extra)
	f.Close()
	log := filepath.Join(data, "log")
	os.Remove(log) // the primary's log came with the backup
	runAs(t, bin+"/pg_ctl", "-D", data, "-w", "-l", log, "start")
	t.Cleanup(func() {
		exec.Command("su", "postgres", "-s", "/bin/sh", "-c", bin+"/pg_ctl -D "+data+" -m fast stop").Run()
	})
	return &Instance{Port: port, Socket: sock, DataDir: data}
}

// instanceDirs makes a temporary directory (removed when the test ends) with
// a data and a socket directory owned by postgres.
func instanceDirs(t testing.TB, prefix string) (data, sock string) {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	data, sock = filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	for _, d := range []string{data, sock} {
		if err := system.MkdirOwned(d, 0o700, "postgres:postgres"); err != nil {
			t.Fatal(err)
		}
	}
	return data, sock
}
