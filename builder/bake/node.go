package bake

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"xroad-appliance/builder/run"
)

// modulePath is the module whose checkout builds xroad-node.
const modulePath = "xroad-appliance"

// buildNode builds xroad-node from the checkout that holds dir into work,
// as `make build` does (static, trimmed paths), and returns its path.
func buildNode(ctx context.Context, dir, work, version string) (string, error) {
	modRoot, err := checkoutRoot(dir)
	if err != nil {
		return "", fmt.Errorf("xroad-node: no --node-binary given and %w", err)
	}
	if version == "" {
		version = "dev"
	}
	bin := filepath.Join(work, "xroad-node")
	cmd := run.Cmd{Dir: modRoot, Env: []string{"CGO_ENABLED=0"}}
	if err := cmd.Run(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -X "+modulePath+"/cmd/internal/cli.Version="+version,
		"-o", bin, "./cmd/xroad-node"); err != nil {
		return "", fmt.Errorf("xroad-node: %w", err)
	}
	return bin, nil
}

// checkoutRoot finds the xroad-appliance module root at or above dir.
func checkoutRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if mod, err := os.Open(filepath.Join(d, "go.mod")); err == nil {
			first := ""
			sc := bufio.NewScanner(mod)
			if sc.Scan() {
				first = strings.TrimSpace(sc.Text())
			}
			mod.Close()
			if first == "module "+modulePath {
				return d, nil
			}
			return "", fmt.Errorf("%s is in module %q, not an %s checkout", dir, strings.TrimPrefix(first, "module "), modulePath)
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%s is not inside an %s checkout", dir, modulePath)
		}
	}
}
