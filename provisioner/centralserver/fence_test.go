package centralserver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/pg/pgtest"
	"xroad-appliance/provisioner/phase"
	"xroad-appliance/provisioner/system"
)

// TestFenceCheck runs the fence on real PostgreSQL: db1 is a primary with
// db2 streaming from it over TLS; db2 is promoted and db1 stopped, as after
// a fail-over, and db1's start is judged at each step.
func TestFenceCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	ctx := context.Background()
	certs := testCerts(t)
	restore := TLS
	TLS.CA = certs.ca
	t.Cleanup(func() { TLS = restore })

	access := pgtest.Access{HBA: pg.HBALocal + "\nlocal   replication   db2   trust\nhostssl   replication   standby   127.0.0.1/32   scram-sha-256", Ident: pg.IdentLines}
	db1 := pgtest.Start(t, access, "ssl = on", "ssl_cert_file = '"+certs.cert+"'", "ssl_key_file = '"+certs.key+"'")
	db1.SQL(t, "postgres", "CREATE ROLE db2 LOGIN REPLICATION; CREATE ROLE standby LOGIN REPLICATION PASSWORD 'repl-secret'")
	db2 := pgtest.StartStandby(t, db1, "db2", "db2")

	platform := facts(t, "debian-12")
	platform.PG.BinDir, platform.PG.Default.DataDir = pgtest.BinDir(t), db1.DataDir
	n := &Node{&phase.Context{Facts: platform, State: nodestate.Open(t.TempDir()), Doc: &metadata.Document{Role: metadata.RoleCSDBPrimary, Node: "db1",
		CentralServer: &metadata.CentralServer{Database: metadata.CSDatabase{
			Primary: metadata.Host{Name: "db1", Address: "127.0.0.1"}, Standbys: []metadata.Host{{Name: "db2", Address: "127.0.0.1"}},
			Port: db2.Port, ReplicationUser: "standby", ReplicationPassword: "repl-secret",
		}}}}}
	check := func() (error, string) {
		var log bytes.Buffer
		err := FenceCheck(ctx, n.Context, 0, &log)
		return err, log.String()
	}
	asPostgres := func(args ...string) {
		if _, err := system.Run(ctx, system.Cmd{User: "postgres", Args: args}); err != nil {
			t.Fatal(err)
		}
	}

	if err, log := check(); err != nil || !strings.Contains(log, "starts as the primary on timeline 1") {
		t.Fatalf("db2 on the same timeline: %v\n%s", err, log)
	}

	asPostgres(pgtest.BinDir(t)+"/pg_ctl", "promote", "-w", "-D", db2.DataDir)
	asPostgres(pgtest.BinDir(t)+"/pg_ctl", "stop", "-m", "fast", "-D", db1.DataDir)
	err, log := check()
	var fenced *Fenced
	if !errors.As(err, &fenced) || fenced.PeerTimeline != 2 || fenced.Timeline != 1 || !strings.Contains(fenced.Peer, "db2") {
		t.Fatalf("after db2's promotion: %v\n%s", err, log)
	}
	if f, err := ReadFence(n.State); err != nil || f == nil {
		t.Fatalf("no fence kept: %v", err)
	}
	if strings.Contains(err.Error()+log, "repl-secret") {
		t.Error("the replication password in the fence's text")
	}

	// The fence holds with the new primary out of reach.
	asPostgres(pgtest.BinDir(t)+"/pg_ctl", "stop", "-m", "fast", "-D", db2.DataDir)
	if err, _ := check(); !errors.As(err, &fenced) {
		t.Fatalf("with db2 down the fence was lifted: %v", err)
	}
	// Starting as a standby is always let through.
	if err := os.WriteFile(filepath.Join(db1.DataDir, "standby.signal"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err, log := check(); err != nil || !strings.Contains(log, "starts as a standby") {
		t.Fatalf("as a standby: %v\n%s", err, log)
	}
	// Unfenced, with no other node answering, the primary comes up.
	os.Remove(filepath.Join(db1.DataDir, "standby.signal"))
	os.Remove(n.State.FenceFile())
	if err, log := check(); err != nil || !strings.Contains(log, "db2 did not answer") {
		t.Fatalf("alone: %v\n%s", err, log)
	}
}

type certFiles struct{ ca, cert, key string }

// testCerts makes a CA and a server certificate for 127.0.0.1, readable by
// postgres.
func testCerts(t *testing.T) certFiles {
	t.Helper()
	dir, err := os.MkdirTemp("", "fence-tls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "db"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caTmpl, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	f := certFiles{ca: filepath.Join(dir, "ca.crt"), cert: filepath.Join(dir, "server.crt"), key: filepath.Join(dir, "server.key")}
	for path, block := range map[string]*pem.Block{f.ca: {Type: "CERTIFICATE", Bytes: caDER}, f.cert: {Type: "CERTIFICATE", Bytes: der}, f.key: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := system.WriteFile(path, pem.EncodeToMemory(block), 0o600, "postgres:postgres"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f.ca, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}
