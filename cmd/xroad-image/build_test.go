package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xroad-appliance/cmd/internal/cli"
)

func runImage(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	root := &cli.Command{Name: "xroad-image", Sub: []*cli.Command{buildCommand()}}
	var stdout, stderr bytes.Buffer
	code := cli.Execute(context.Background(), root, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func shippedDefinition(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../images/securityserver.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuildRejectsBadInputNamingTheKey(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.yaml")
	def := strings.Replace(string(shippedDefinition(t)), "  variant: vanilla", "  variant: vanilla\n  flavour: strawberry", 1)
	if err := os.WriteFile(broken, []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown key", []string{"build", broken, "--out", out}, broken + ": line 20: unknown key under xroad"},
		{"unknown profile", []string{"build", "../../images/securityserver.yaml", "--profile", "debian-13", "--out", out}, `flag --profile (key profile): unknown profile "debian-13"`},
		{"unknown output", []string{"build", "../../images/securityserver.yaml", "--output", "oci-layout,floppy", "--out", out}, `flag --output (key outputs[1]): unknown output "floppy"`},
		{"bad epoch", []string{"build", "../../images/securityserver.yaml", "--source-date-epoch", "yesterday", "--out", out}, "--source-date-epoch"},
		{"no out", []string{"build", "../../images/securityserver.yaml"}, "--out"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runImage(t, c.args...)
			if code != cli.ExitUsage || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q: want %d and %q", code, stderr, cli.ExitUsage, c.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("output directory created for bad input")
			}
		})
	}
}

func TestBuildSourceDateEpochFromEnvironment(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "-5")
	code, _, stderr := runImage(t, "build", "../../images/securityserver.yaml", "--out", filepath.Join(t.TempDir(), "out"))
	if code != cli.ExitUsage || !strings.Contains(stderr, "$SOURCE_DATE_EPOCH") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestBuildHelp(t *testing.T) {
	code, stdout, _ := runImage(t, "build", "--help")
	if code != cli.ExitOK || !strings.Contains(stdout, "-node-binary") || !strings.Contains(stdout, "-push") {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
}
