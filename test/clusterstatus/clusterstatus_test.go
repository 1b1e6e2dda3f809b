package clusterstatus

import (
	"bytes"
	"strings"
	"testing"

	"xroad-appliance/provisioner/status"
	"xroad-appliance/test/cluster"
)

func healthyPrimary(secondaries ...string) *status.Report {
	r := &status.Report{Healthy: true, Node: status.Node{Role: "primary"}, Primary: &status.PrimaryState{}}
	r.Provisioning.Provisioned = true
	r.HealthCheck.StatusCode = 200
	for _, s := range secondaries {
		r.Primary.Secondaries = append(r.Primary.Secondaries, status.Standby{Name: s, Expected: true, State: "streaming"})
	}
	return r
}

func healthySecondary() *status.Report {
	r := &status.Report{Healthy: true, Node: status.Node{Role: "secondary"}, Secondary: &status.SecondaryState{WalReceiver: "streaming"},
		Sync: &status.Sync{LastRun: &status.SyncRun{OK: true, AgeSeconds: 3}}}
	r.Provisioning.Provisioned = true
	r.HealthCheck.StatusCode = 200
	return r
}

func TestConverged(t *testing.T) {
	nodes := []*cluster.Node{{Name: "ss1", Addr: "10.0.0.11"}, {Name: "ss2", Addr: "10.0.0.12"}}
	cases := map[string]struct {
		mutate  func(p, s *status.Report)
		ok      bool
		waiting string
	}{
		"all well":          {func(p, s *status.Report) {}, true, ""},
		"provisioning":      {func(p, s *status.Report) { s.Provisioning.Provisioned = false }, false, "ss2: provisioning"},
		"unhealthy":         {func(p, s *status.Report) { s.Healthy, s.Problems = false, []string{"lag"} }, false, "ss2: lag"},
		"maintenance":       {func(p, s *status.Report) { s.HealthCheck.StatusCode = 503 }, false, "ss2: health port answers 503"},
		"catching up":       {func(p, s *status.Report) { p.Primary.Secondaries[0].State = "catchup" }, false, "ss1: secondaries not all streaming"},
		"missing secondary": {func(p, s *status.Report) { p.Primary.Missing = []string{"ss3"} }, false, "ss1: secondaries not all streaming"},
		"never synced":      {func(p, s *status.Report) { s.Sync.LastRun = nil }, false, "ss2: configuration not synced"},
		"sync failed":       {func(p, s *status.Report) { s.Sync.LastRun.OK = false }, false, "ss2: configuration not synced"},
	}
	for name, c := range cases {
		p, s := healthyPrimary("ss2"), healthySecondary()
		c.mutate(p, s)
		v := View{Nodes: nodes, Reports: []*status.Report{p, s}, Errors: make([]error, 2)}
		ok, waiting := v.Converged()
		if ok != c.ok || waiting != c.waiting {
			t.Errorf("%s: Converged() = %v, %q; want %v, %q", name, ok, waiting, c.ok, c.waiting)
		}
	}
}

func TestTableShowsReplicationAndSync(t *testing.T) {
	v := View{Nodes: []*cluster.Node{{Name: "ss1", Addr: "10.0.0.11"}, {Name: "ss2", Addr: "10.0.0.12"}},
		Reports: []*status.Report{healthyPrimary("ss2"), healthySecondary()}, Errors: make([]error, 2)}
	var b bytes.Buffer
	if err := v.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"serves ss2 streaming", "receiver streaming", "synced 3s ago", "source of sync"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
