package xroadsetup

import "testing"

func TestAltNames(t *testing.T) {
	got := AltNames([]string{"ss.example.org", "ss1", "10.0.0.1", "ss.example.org", "", "fd00::1"})
	if want := "DNS:ss.example.org,DNS:ss1,IP:10.0.0.1,IP:fd00::1"; got != want {
		t.Errorf("AltNames = %s, want %s", got, want)
	}
}

func TestDatabaseName(t *testing.T) {
	for url, want := range map[string]string{
		"jdbc:postgresql://127.0.0.1:5433/serverconf":                       "serverconf",
		"jdbc:postgresql://a:5432,b:5432/centerui?targetServerType=primary": "centerui",
		"jdbc:postgresql://127.0.0.1:5432":                                  "",
		"postgres://x/y":                                                    "",
	} {
		if got := DatabaseName(url); got != want {
			t.Errorf("DatabaseName(%s) = %q, want %q", url, got, want)
		}
	}
}
