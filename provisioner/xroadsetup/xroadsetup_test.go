package xroadsetup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xroad-appliance/provisioner/system"
)

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

// A tool that finds debconf's lock taken is run again, with its input,
// until it gets the lock; any other failure is final at once.
func TestRunPackageToolWaitsForTheLock(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "tool")
	script := `#!/bin/sh
n=$(cat "$0.count" 2>/dev/null || echo 0); echo $((n+1)) > "$0.count"
read line; [ "$line" = answer ] || { echo "no input" >&2; exit 3; }
[ "$n" -ge 2 ] && exit 0
echo 'debconf: DbDriver "config": /var/cache/debconf/config.dat is locked by another process: Resource temporarily unavailable' >&2
exit 1
`
	if err := os.WriteFile(tool, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := RunPackageTool(context.Background(), system.Cmd{Args: []string{tool}, Stdin: strings.NewReader("answer\n")}); err != nil {
		t.Fatal(err)
	}
	if n, _ := os.ReadFile(tool + ".count"); strings.TrimSpace(string(n)) != "3" {
		t.Errorf("ran %s times, want 3", n)
	}
	if err := RunPackageTool(context.Background(), system.Cmd{Args: []string{"false"}}); err == nil {
		t.Error("a plain failure passed")
	}
}
