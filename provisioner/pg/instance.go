package pg

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/system"
)

// DefaultInstance makes sure the default PostgreSQL instance has its
// cluster and runs: Debian's packages create it at install, RHEL's leave
// that to postgresql-setup (init), which runs here, as root, once; then the
// unit is enabled and started.
func DefaultInstance(sd system.Units, unit string, port int, dataDir string, init []string) engine.Phase {
	service := unit + ".service"
	actions := []string{"systemctl enable --now " + service}
	if len(init) > 0 {
		actions = append([]string{strings.Join(init, " ") + " (when " + dataDir + " holds no cluster)"}, actions...)
	}
	hasCluster := func() (bool, error) {
		_, err := os.Stat(filepath.Join(dataDir, "PG_VERSION"))
		if os.IsNotExist(err) {
			return false, nil
		}
		return err == nil, err
	}
	return engine.Phase{
		Name: "default-instance", Summary: "the default PostgreSQL instance on port " + fmt.Sprint(port) + " initialised and running",
		Actions: actions,
		Check: func(ctx context.Context) (bool, error) {
			if ok, err := hasCluster(); err != nil || !ok {
				return false, err
			}
			st, err := sd.ActiveState(ctx, service)
			return st == "active", err
		},
		Apply: func(ctx context.Context) error {
			ok, err := hasCluster()
			if err != nil {
				return err
			}
			if !ok {
				if len(init) == 0 {
					return fmt.Errorf("%s holds no cluster and the profile names no command to create one", dataDir)
				}
				if entries, _ := os.ReadDir(dataDir); len(entries) > 0 {
					return fmt.Errorf("%s is not empty and holds no cluster: refusing to initialise over it", dataDir)
				}
				if _, err := system.Run(ctx, system.Cmd{Args: init}); err != nil {
					return err
				}
			}
			if err := sd.Enable(ctx, service); err != nil {
				return err
			}
			// The start job ends when the server takes connections.
			return sd.Start(ctx, service)
		},
	}
}
