package status

import (
	"strings"
	"testing"

	"xroad-appliance/provisioner/metadata"
)

func TestCentralServerProblems(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		name string
		role metadata.Role
		cs   *CentralServer
		want string
	}{
		{"healthy primary", metadata.RoleCSDBPrimary, &CentralServer{InRecovery: &no}, ""},
		{"standby missing", metadata.RoleCSDBPrimary, &CentralServer{InRecovery: &no, Missing: []string{"db2"}}, "standby db2 is not streaming"},
		{"primary in recovery", metadata.RoleCSDBPrimary, &CentralServer{InRecovery: &yes}, "in recovery"},
		{"streaming standby", metadata.RoleCSDBStandby, &CentralServer{InRecovery: &yes, WalReceiver: "streaming"}, ""},
		{"standby waiting", metadata.RoleCSDBStandby, &CentralServer{InRecovery: &yes, WalReceiver: "waiting"}, `"waiting", not streaming`},
		{"promoted standby", metadata.RoleCSDBStandby, &CentralServer{InRecovery: &no}, "not in recovery"},
		{"central server reaching a writer", metadata.RoleCSNode, &CentralServer{HANodeName: "node_0", Writable: "10.0.0.21:5432"}, ""},
		{"central server without database", metadata.RoleCSNode, &CentralServer{HANodeName: "node_0", Error: "no writable database among 10.0.0.21"}, "no writable database"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := strings.Join(centralServerProblems(c.role, c.cs), "; ")
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Errorf("problems = %q, want %q", got, c.want)
			}
		})
	}
}

func TestScrubHidesCentralServerPasswords(t *testing.T) {
	d := &metadata.Document{CentralServer: &metadata.CentralServer{
		Database: metadata.CSDatabase{Password: "owner-secret-1", ReplicationPassword: "repl-secret-2"},
		Admin:    metadata.Credentials{Password: "admin-secret-3"},
	}}
	got := scrub("failed: owner-secret-1 repl-secret-2 admin-secret-3", d)
	if strings.Contains(got, "secret") {
		t.Errorf("scrubbed text = %q", got)
	}
}
