package confedit

import (
	"strings"
	"testing"
)

func TestSetBlockIsIdempotentAndKeepsTheRest(t *testing.T) {
	orig := []byte("# shipped\nlisten_addresses = 'localhost'\nport = 5433\n")
	once := SetBlock(orig, "ssl = on\nwal_level = replica", Append)
	twice := SetBlock(once, "ssl = on\nwal_level = replica", Append)
	if string(once) != string(twice) {
		t.Fatalf("not idempotent:\n%s\n---\n%s", once, twice)
	}
	if !strings.HasPrefix(string(once), string(orig)) {
		t.Fatal("shipped content changed")
	}
	changed := SetBlock(once, "ssl = off", Append)
	if strings.Contains(string(changed), "wal_level") || strings.Count(string(changed), beginMark) != 1 {
		t.Fatalf("block not replaced:\n%s", changed)
	}
	hba := SetBlock([]byte("local all all peer\n"), "hostssl replication +slavenode samenet cert", Prepend)
	if !strings.HasPrefix(string(hba), beginMark) || !strings.HasSuffix(string(hba), "local all all peer\n") {
		t.Fatalf("prepend:\n%s", hba)
	}
	body, ok := Block(hba)
	if !ok || body != "hostssl replication +slavenode samenet cert\n" {
		t.Fatalf("Block = %q", body)
	}
}

func TestSetINI(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "[proxy]\nhealth-check-port=5588\n"},
		{"[proxy]\nhealth-check-port=0\n", "[proxy]\nhealth-check-port=5588\n"},
		{"[signer]\nx=1\n", "[signer]\nx=1\n\n[proxy]\nhealth-check-port=5588\n"},
		{"[proxy]\na=1\n\n[signer]\nx=1\n", "[proxy]\na=1\nhealth-check-port=5588\n\n[signer]\nx=1\n"},
		{"[proxy]\n# health-check-port=1\n", "[proxy]\n# health-check-port=1\nhealth-check-port=5588\n"},
	}
	for _, c := range cases {
		got := string(SetINI([]byte(c.in), "proxy", "health-check-port", "5588"))
		if got != c.want {
			t.Errorf("SetINI(%q) = %q, want %q", c.in, got, c.want)
		}
		if again := string(SetINI([]byte(got), "proxy", "health-check-port", "5588")); again != got {
			t.Errorf("not idempotent: %q", again)
		}
		if v, ok := GetINI([]byte(got), "proxy", "health-check-port"); !ok || v != "5588" {
			t.Errorf("GetINI = %q %v", v, ok)
		}
	}
}

func TestSetProperty(t *testing.T) {
	in := "serverconf.hibernate.connection.url = jdbc:postgresql://127.0.0.1:5432/serverconf\n#c\nserverconf.hibernate.connection.password = old\n"
	out := SetProperty([]byte(in), "serverconf.hibernate.connection.url", "jdbc:postgresql://127.0.0.1:5433/serverconf")
	want := "serverconf.hibernate.connection.url = jdbc:postgresql://127.0.0.1:5433/serverconf\n#c\nserverconf.hibernate.connection.password = old\n"
	if string(out) != want {
		t.Fatalf("got %q", out)
	}
	if v, _ := GetProperty(out, "serverconf.hibernate.connection.password"); v != "old" {
		t.Fatalf("password = %q", v)
	}
}

func TestConninfo(t *testing.T) {
	got := Conninfo(map[string]string{"host": "10.0.0.1", "port": "5433", "user": "ss2", "application_name": "it's"}, "host", "port", "user")
	if got != `host=10.0.0.1 port=5433 user=ss2 application_name='it\'s'` {
		t.Fatalf("got %s", got)
	}
	if PGString("a'b") != "'a''b'" {
		t.Fatal(PGString("a'b"))
	}
}

func TestParseConninfoReadsWhatConninfoWrites(t *testing.T) {
	kv := map[string]string{"host": "10.0.0.12", "user": "ss3", "sslcert": `/etc/x y/it's\here`, "application_name": ""}
	got := ParseConninfo(Conninfo(kv, "host"))
	for k, v := range kv {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// The server's own rendering, with obfuscated password and extra keys.
	shown := "user=ss3 password=******** channel_binding=prefer dbname=replication host=10.0.0.12 port=5433 fallback_application_name=walreceiver sslmode=verify-ca"
	if h := ParseConninfo(shown)["host"]; h != "10.0.0.12" {
		t.Errorf("host from pg_stat_wal_receiver = %q", h)
	}
}
