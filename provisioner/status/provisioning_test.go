package status

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
)

func debianFacts(t testing.TB) *profiles.Facts {
	t.Helper()
	f, err := profiles.Resolve("debian-12", "")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// testDoc is a role document as far as status reads it, with secrets set so
// that tests can check they never show.
func testDoc(role metadata.Role, node string, secondaries ...string) *metadata.Document {
	d := &metadata.Document{Version: metadata.Version, Cluster: "c1", Role: role, Node: node,
		Primary:            metadata.Primary{Name: "ss1", Address: "10.0.0.1", HostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyPublic"},
		ServerconfPassword: "pw-SECRET-do-not-print",
		TLS:                metadata.TLS{CA: "-----BEGIN CERTIFICATE-----\nCA\n", Cert: "-----BEGIN CERTIFICATE-----\nCERT\n", Key: "-----BEGIN PRIVATE KEY-----\nKEY-SECRET\n"},
		SSH:                metadata.SSH{HostKey: "HOSTKEY-SECRET", PrivateKey: "PRIVKEY-SECRET", PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIUserPublic"},
		Options:            metadata.Options{HealthCheckPort: 5588, HealthCheckInterface: "0.0.0.0"},
	}
	for _, s := range secondaries {
		d.Secondaries = append(d.Secondaries, metadata.Member{Name: s, SSHPublicKey: "ssh-ed25519 AAAA" + s})
	}
	return d
}

var testSecrets = []string{"SECRET", "PRIVATE KEY", "BEGIN CERTIFICATE"}

// runEngine runs phases named like the node's plan through the real engine;
// the phase named failAt fails with err.
func runEngine(t *testing.T, st *nodestate.State, plan []string, failAt string, err error) {
	t.Helper()
	var phases []engine.Phase
	for _, name := range plan {
		phases = append(phases, engine.Phase{Name: name,
			Check: func(context.Context) (bool, error) { return name != failAt, nil },
			Apply: func(context.Context) error { return err },
		})
	}
	r := &engine.Runner{State: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Command: "/usr/bin/xroad-node provision"}
	r.Run(context.Background(), phases)
}

func TestProvisioningFailedPhase(t *testing.T) {
	in := &Inputs{State: nodestate.Open(t.TempDir()), Doc: testDoc(metadata.RoleSecondary, "ss2"), Facts: debianFacts(t)}
	plan := planNames(in)
	at := slices.Index(plan, "basebackup")
	if at < 1 {
		t.Fatalf("secondary plan = %v, expected basebackup after other phases", plan)
	}
	runEngine(t, in.State, plan, "basebackup", errors.New("pg_basebackup: could not connect (password pw-SECRET-do-not-print)"))

	p, err := probeProvisioning(in)
	if err != nil {
		t.Fatal(err)
	}
	if p.Provisioned || !slices.Equal(p.Done, plan[:at]) || !slices.Equal(p.Pending, plan[at:]) {
		t.Fatalf("provisioning = %+v", p)
	}
	res := p.Result
	if res == nil || res.Status != "failed" || res.Phase != "basebackup" ||
		res.Retry != "/usr/bin/xroad-node provision --phase basebackup (or /usr/bin/xroad-node provision to resume)" {
		t.Fatalf("result = %+v", res)
	}
	if strings.Contains(res.Error, "SECRET") || !strings.Contains(res.Error, "phase basebackup: pg_basebackup: could not connect") {
		t.Fatalf("result error = %q", res.Error)
	}

	r := &Report{Provisioning: p}
	probs := provisioningProblems(&r.Provisioning)
	want := []string{"not provisioned", "provisioning failed in phase basebackup; retry: " + res.Retry}
	if !slices.Equal(probs, want) {
		t.Fatalf("problems = %q", probs)
	}
}

func TestProvisioningDone(t *testing.T) {
	in := &Inputs{State: nodestate.Open(t.TempDir()), Doc: testDoc(metadata.RolePrimary, "ss1", "ss2"), Facts: debianFacts(t)}
	plan := planNames(in)
	runEngine(t, in.State, plan, "", nil)
	// A stamp the plan does not know (an older version's phase) is still listed.
	writeFile(t, filepath.Join(in.State.Dir(), "phases", "retired.done"), "")
	p, err := probeProvisioning(in)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Provisioned || !slices.Equal(p.Done, append(plan, "retired")) || len(p.Pending) != 0 || p.Result.Status != "provisioned" {
		t.Fatalf("provisioning = %+v", p)
	}
	if probs := provisioningProblems(&p); len(probs) != 0 {
		t.Fatalf("problems = %q", probs)
	}
}

func TestProvisioningWithoutPlanOrState(t *testing.T) {
	in := &Inputs{State: nodestate.Open(filepath.Join(t.TempDir(), "absent"))}
	p, err := probeProvisioning(in)
	if err != nil || p.Provisioned || len(p.Done) != 0 || p.Pending != nil || p.Result != nil {
		t.Fatalf("provisioning = %+v, err %v", p, err)
	}
	writeFile(t, filepath.Join(in.State.Dir(), "result.json"), "{not json")
	if _, err := probeProvisioning(in); err == nil || !strings.Contains(err.Error(), "result.json") {
		t.Fatalf("a broken result file gave %v", err)
	}
}

// Directories beside the data directories are reported with their sizes; a
// backup left behind on a provisioned node is a problem, a replaced data
// directory is not (every clone keeps one).
func TestMovedAsideReportedWithSize(t *testing.T) {
	dir := t.TempDir()
	f := *debianFacts(t)
	f.PG.Serverconf.DataDir = filepath.Join(dir, "serverconf")
	f.PG.Default.DataDir = filepath.Join(dir, "main")
	for path, size := range map[string]int{
		f.PG.Serverconf.DataDir + ".replaced-20260101T000000Z/base/1":     3000,
		f.PG.Serverconf.DataDir + ".replaced-20260101T000000Z/PG_VERSION": 3,
		f.PG.Default.DataDir + ".xroad-basebackup/base/1":                 1024,
	} {
		os.MkdirAll(filepath.Dir(path), 0o700)
		if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(f.PG.Serverconf.DataDir+".replaced-file", nil, 0o600) // not a directory: not ours to report
	in := &Inputs{Facts: &f, State: nodestate.Open(filepath.Join(dir, "state"))}
	p, err := probeProvisioning(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []MovedAside{
		{Path: f.PG.Serverconf.DataDir + ".replaced-20260101T000000Z", Kind: "replaced", Bytes: 3003},
		{Path: f.PG.Default.DataDir + ".xroad-basebackup", Kind: "interrupted", Bytes: 1024},
	}
	if !slices.Equal(p.MovedAside, want) {
		t.Fatalf("moved aside %+v, want %+v", p.MovedAside, want)
	}
	p.Provisioned = true
	problems := provisioningProblems(&p)
	if len(problems) != 1 || !strings.Contains(problems[0], "interrupted base backup is left at "+want[1].Path+" (1.0 KiB)") {
		t.Fatalf("problems %q", problems)
	}
}
