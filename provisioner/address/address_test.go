package address

import "testing"

func TestProblem(t *testing.T) {
	for _, v := range []string{"10.0.0.1", "192.168.1.255", "ss1", "ss1.example.org", "ss1.example.org.", "a-b.c"} {
		if p := Problem(v); p != "" {
			t.Errorf("%q refused: %s", v, p)
		}
	}
	for _, v := range []string{
		"", "0.0.0.0", "127.0.0.1", "127.1.2.3", "255.255.255.255", "224.0.0.1",
		"fd00::11", "::1", "::", "::ffff:10.0.0.1", "fe80::1%eth0", "[fd00::11]",
		"10.0.0.300", "10.0.0", "localhost", "LocalHost.", "a..b", "-a", "a b", "a\nb",
	} {
		if Problem(v) == "" {
			t.Errorf("%q accepted", v)
		}
	}
}

func TestKey(t *testing.T) {
	same := [][2]string{{"SS1.example.org", "ss1.example.org."}, {"10.0.0.1", "10.0.0.1"}}
	for _, p := range same {
		if Key(p[0]) != Key(p[1]) {
			t.Errorf("%q and %q differ", p[0], p[1])
		}
	}
	if Key("ss1") == Key("ss2") {
		t.Error("different names compare equal")
	}
}
