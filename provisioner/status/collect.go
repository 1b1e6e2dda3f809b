package status

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"xroad-appliance/provisioner/metadata"
)

// Collect runs every probe concurrently, each bounded by in.Timeout, and
// judges the result.
func Collect(ctx context.Context, in *Inputs) *Report {
	c := in.withDefaults()
	r := &Report{Schema: Schema, Time: c.Now().UTC().Truncate(time.Second)}
	r.Node = nodeOf(&c)
	r.Identity = identityOf(&c)
	if c.Doc != nil && c.Doc.Role.IsCentralServer() {
		return collectCentralServer(ctx, &c, r)
	}
	if c.Facts != nil {
		sc := c.Facts.PG.Serverconf
		r.Serverconf.Unit, r.Serverconf.Port = sc.Unit+".service", sc.Port
	}

	var wg sync.WaitGroup
	run := func(probe func()) {
		wg.Add(1)
		go func() { defer wg.Done(); probe() }()
	}
	run(func() {
		state, err := bounded(ctx, c.Timeout, func(ctx context.Context) (string, error) { return unitState(ctx, &c) })
		r.Serverconf.UnitState, r.Serverconf.UnitError = state, errText(err)
	})
	run(func() {
		db, err := bounded(ctx, c.Timeout, func(ctx context.Context) (database, error) { return probeDatabase(ctx, &c) })
		r.Serverconf.AcceptsConnections, r.Primary, r.Secondary = db.accepts, db.primary, db.secondary
		r.Serverconf.Error = errText(err)
		r.noteRoleSection(&c, err)
	})
	var seen map[string]time.Time
	var seenErr error
	if role(&c) == metadata.RolePrimary {
		run(func() {
			seen, seenErr = bounded(ctx, c.Timeout, func(context.Context) (map[string]time.Time, error) { return probeSeen(&c) })
		})
	} else {
		r.Sync = &Sync{Log: c.SyncLog, DisabledFlag: c.SyncDisabledFlag}
		run(func() {
			s, err := bounded(ctx, c.Timeout, func(context.Context) (Sync, error) { return probeSync(&c) })
			s.Log, s.DisabledFlag, s.Error = c.SyncLog, c.SyncDisabledFlag, errText(err)
			*r.Sync = s
		})
	}
	run(func() {
		p, err := bounded(ctx, c.Timeout, func(context.Context) (Provisioning, error) { return probeProvisioning(&c) })
		p.Error = errText(err)
		r.Provisioning = p
	})
	r.HealthCheck.URL = HealthURL(c.Doc)
	run(func() {
		h, err := bounded(ctx, c.Timeout, func(ctx context.Context) (HealthCheck, error) { return probeHealth(ctx, &c) })
		h.URL, h.Error = r.HealthCheck.URL, errText(err)
		r.HealthCheck = h
	})
	wg.Wait()
	if r.Primary != nil {
		r.Primary.LastSeen, r.Primary.LastSeenError = lastSeenOf(c.Doc, seen), errText(seenErr)
	}

	r.Problems = judge(r, &c)
	r.Healthy = len(r.Problems) == 0
	return r
}

func nodeOf(c *Inputs) Node {
	if c.Doc == nil {
		err := c.DocErr
		if err == nil {
			err = errors.New("no role document")
		}
		return Node{Error: err.Error()}
	}
	n := Node{Role: string(c.Doc.Role), Name: c.Doc.Node, Cluster: c.Doc.Cluster, Source: c.DocSource}
	if c.Provisioned != nil && c.Topology != nil {
		n.ProvisionedAs = string(c.Provisioned.Role)
		n.Changed = c.Topology.By + " at " + c.Topology.Changed.Format(time.RFC3339)
	}
	return n
}

// collectCentralServer reports a central-server HA node: its provisioning,
// its central-server section and, on a central server node, the HA cluster
// status its central server gives.
func collectCentralServer(ctx context.Context, c *Inputs, r *Report) *Report {
	var wg sync.WaitGroup
	run := func(probe func()) {
		wg.Add(1)
		go func() { defer wg.Done(); probe() }()
	}
	run(func() {
		p, err := bounded(ctx, c.Timeout, func(context.Context) (Provisioning, error) { return probeProvisioning(c) })
		p.Error = errText(err)
		r.Provisioning = p
	})
	run(func() {
		cs, err := bounded(ctx, c.Timeout, func(ctx context.Context) (*CentralServer, error) { return probeCentralServer(ctx, c) })
		if cs == nil {
			cs = &CentralServer{}
		}
		cs.Error = errText(err)
		r.CentralServer = cs
	})
	var ha *HACluster
	if c.Doc.Role == metadata.RoleCSNode {
		run(func() { ha = probeHACluster(ctx, c) })
	}
	wg.Wait()
	r.CentralServer.HACluster = ha
	r.Problems = append(provisioningProblems(&r.Provisioning), centralServerProblems(c.Doc.Role, r.CentralServer)...)
	if r.Problems == nil {
		r.Problems = []string{}
	}
	r.Healthy = len(r.Problems) == 0
	return r
}

func role(c *Inputs) metadata.Role {
	if c.Doc == nil {
		return ""
	}
	return c.Doc.Role
}

// noteRoleSection makes sure the role's section exists and says why it is
// empty when the database probe failed before filling it.
func (r *Report) noteRoleSection(c *Inputs, err error) {
	if err == nil {
		return
	}
	why := "not queried: the serverconf instance did not answer"
	switch role(c) {
	case metadata.RolePrimary:
		if r.Primary == nil {
			r.Primary = &PrimaryState{Secondaries: []Standby{}, Missing: []string{}, Error: why}
		}
	case metadata.RoleSecondary:
		if r.Secondary == nil {
			r.Secondary = &SecondaryState{Error: why}
		}
	}
}

// bounded runs probe with a deadline and stops waiting when the probe
// ignores it: one hung probe must not hold up the report. A panic is an
// error of that probe alone.
func bounded[T any](ctx context.Context, d time.Duration, probe func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type outcome struct {
		v   T
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				var zero T
				done <- outcome{zero, fmt.Errorf("probe failed: %v", p)}
			}
		}()
		v, err := probe(ctx)
		done <- outcome{v, err}
	}()
	select {
	case o := <-done:
		return o.v, o.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("no answer within %s: %w", d, ctx.Err())
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
