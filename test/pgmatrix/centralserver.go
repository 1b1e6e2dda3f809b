package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"xroad-appliance/builder/kit"
	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/centralserver"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/phase"
)

func csInstance(f *profiles.Facts) profiles.Instance { return f.PG.Default }

// cs is the provisioner's database node for n with document doc. The
// document's database port is the cluster's one port on a real cluster;
// here it is the port of the node n talks to (peer), each node having its own.
func (n *node) cs(doc *metadata.Document, peer *node) *phase.Context {
	d := *doc
	c := *doc.CentralServer
	c.Database.Port = peer.srv.port
	d.CentralServer = &c
	return &phase.Context{Doc: &d, Facts: n.facts, Systemd: units{n.srv}, State: n.state, Log: n.log,
		PrimaryWait: time.Minute, FollowersWait: time.Minute, TLSFiles: n.tls, PassfilePath: filepath.Join(n.root, "replication.pgpass")}
}

// runCentralServer runs the central-server database roles (Appendix A) of
// one case: db1 primary, db2 standby on its slot, db2 promoted, db1 fenced,
// then rejoined as db2's standby.
func runCentralServer(ctx context.Context, c *caseRun) {
	if why := c.facts.XRoad.Unavailable["cs-database"]; why != "" {
		c.skip("cs-database", why)
		return
	}
	spec := kit.Spec{Cluster: "matrix-cs", CentralServer: kit.DefaultCentralServer()}
	spec.CentralServer.Database.Primary = kit.Node{Name: "db1", Address: "10.254.2.1"}
	spec.CentralServer.Database.Standbys = []kit.Node{{Name: "db2", Address: "10.254.2.2"}}
	spec.CentralServer.Nodes = []kit.CSNode{{Node: kit.Node{Name: "cs1", Address: "10.254.2.11"}, HANodeName: "node_0"}}
	dir := filepath.Join(c.dir, "cs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.fail("cs-layout", err)
		return
	}
	docs, err := kitDocuments(dir, spec, c.facts, false)
	if err != nil {
		c.fail("cs-kit", err)
		return
	}
	db1, err := newNode(ctx, dir, docs["db1"], "10.254.2.1", c.facts, csInstance)
	if err != nil {
		c.fail("cs-layout", err)
		return
	}
	db2, err := newNode(ctx, dir, docs["db2"], "10.254.2.2", c.facts, csInstance)
	if err != nil {
		c.fail("cs-layout", err)
		return
	}
	defer db1.srv.stop(context.Background())
	defer db2.srv.stop(context.Background())
	tmpl, err := c.templates.get(ctx, strconv.Itoa(c.facts.PG.Major), c.facts.PG.Serverconf.AuthHost)
	if err != nil {
		c.fail("cs-primary", err)
		return
	}
	streamsOnSlot := func(primary, standby *node) error {
		slot := metadata.SlotName(standby.name)
		return waitFor(ctx, time.Minute, standby.name+" streaming on slot "+slot, func() (bool, error) {
			var active bool
			err := primary.query(ctx, "SELECT coalesce((SELECT active FROM pg_replication_slots WHERE slot_name = "+pg.Literal(slot)+"), false)", &active)
			return active, err
		})
	}
	ok := c.check("cs-primary", func() (string, error) {
		if err := db1.createInstance(tmpl, true, db1.facts.PG.Default); err != nil {
			return "", err
		}
		n := db1.cs(db1.doc, db1)
		if err := db1.converge(ctx, centralserver.Plan(n), "access", "settings", "restart", "slots", "roles", "database"); err != nil {
			return "", fmt.Errorf("%w\n%s", err, db1.srv.logTail())
		}
		enc, err := db1.show(ctx, "password_encryption")
		return "Appendix A settings, slot " + metadata.SlotName("db2") + ", roles, database; password_encryption " + enc, err
	})
	ok = ok && c.check("cs-standby", func() (string, error) {
		if err := db2.createInstance(tmpl, false, db2.facts.PG.Default); err != nil {
			return "", err
		}
		n := db2.cs(db2.doc, db1)
		if err := db2.converge(ctx, centralserver.Plan(n), "passfile", "wait-primary", "basebackup", "access", "settings", "restart", "verify"); err != nil {
			return "", fmt.Errorf("%w\n%s", err, db2.srv.logTail())
		}
		if err := db1.converge(ctx, centralserver.Plan(db1.cs(db1.doc, db1)), "verify"); err != nil {
			return "", err
		}
		return "base backup through its slot with a passfile, verify-ca; streaming", streamsOnSlot(db1, db2)
	})
	var promoted *metadata.Document
	ok = ok && c.check("cs-promote", func() (string, error) {
		if err := db1.srv.stop(ctx); err != nil { // the primary is gone
			return "", err
		}
		if promoted, err = db2.doc.DatabasePromoted(); err != nil {
			return "", err
		}
		if err := db2.converge(ctx, centralserver.PromotePlan(db2.cs(promoted, db2)), "promote", "settings", "restart", "slots"); err != nil {
			return "", fmt.Errorf("%w\n%s", err, db2.srv.logTail())
		}
		var in bool
		if err := db2.query(ctx, "SELECT pg_is_in_recovery()", &in); err != nil || in {
			return "", fmt.Errorf("still in recovery (%v)", err)
		}
		var slot bool
		err := db2.query(ctx, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = "+pg.Literal(metadata.SlotName("db1"))+")", &slot)
		if err == nil && !slot {
			err = errors.New("no slot for the old primary")
		}
		return "new timeline, slot " + metadata.SlotName("db1") + " for the old primary", err
	})
	ok = ok && c.check("cs-fence", func() (string, error) {
		var log bytes.Buffer
		err := centralserver.FenceCheck(ctx, db1.cs(db1.doc, db2), 10*time.Second, &log)
		var fenced *centralserver.Fenced
		if !errors.As(err, &fenced) {
			return "", fmt.Errorf("the old primary's fence-check: %v, want fenced (%s)", err, log.String())
		}
		// The new primary, its old peer down, still starts.
		log.Reset()
		if err := centralserver.FenceCheck(ctx, db2.cs(promoted, db1), time.Second, &log); err != nil {
			return "", fmt.Errorf("the new primary's fence-check: %w", err)
		}
		return fmt.Sprintf("old primary fenced (timeline %d behind %d); the new primary starts", fenced.Timeline, fenced.PeerTimeline), nil
	})
	_ = ok && c.check("cs-rejoin", func() (string, error) {
		next, err := db1.doc.DatabaseRejoined("db2")
		if err != nil {
			return "", err
		}
		n := db1.cs(next, db2)
		if err := centralserver.PrimaryWritable(ctx, n); err != nil {
			return "", err
		}
		if err := db1.converge(ctx, centralserver.RejoinPlan(n), "passfile", "wait-primary", "slot", "basebackup", "access", "settings", "follow"); err != nil {
			return "", fmt.Errorf("%w\n%s", err, db1.srv.logTail())
		}
		var in bool
		if err := db1.query(ctx, "SELECT pg_is_in_recovery()", &in); err != nil || !in {
			return "", fmt.Errorf("not a standby (%v)", err)
		}
		var log bytes.Buffer
		if err := centralserver.FenceCheck(ctx, db1.cs(next, db2), time.Second, &log); err != nil {
			return "", fmt.Errorf("fence-check as a standby: %w", err)
		}
		return "cloned afresh, streaming from db2 on slot " + metadata.SlotName("db1"), streamsOnSlot(db2, db1)
	})
}
