package system

import (
	"context"
	"fmt"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/coreos/go-systemd/v22/dbus"
)

// Systemd drives units over D-Bus.
type Systemd struct{ conn *dbus.Conn }

// Units is what the phases ask of the service manager. *Systemd is the one
// every node uses; the PostgreSQL matrix (test/pgmatrix) answers the same
// calls with pg_ctl for servers it runs outside systemd.
type Units interface {
	Start(ctx context.Context, name string) error
	Restart(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
	Reload(ctx context.Context, name string) error
	Enqueue(ctx context.Context, name string) error
	Enable(ctx context.Context, names ...string) error
	Disable(ctx context.Context, names ...string) error
	DaemonReload(ctx context.Context) error
	ActiveState(ctx context.Context, name string) (string, error)
	Loaded(ctx context.Context, name string) (bool, error)
	UnitFileState(ctx context.Context, name string) (string, error)
}

var _ Units = (*Systemd)(nil)

// ConnectSystemd connects to the system bus, or to systemd's private socket
// when no bus is running (early boot, minimal images).
func ConnectSystemd(ctx context.Context) (*Systemd, error) {
	conn, err := dbus.NewSystemConnectionContext(ctx)
	if err != nil {
		conn, err = dbus.NewSystemdConnectionContext(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to systemd: %w", err)
	}
	return &Systemd{conn: conn}, nil
}

// Close closes the connection.
func (s *Systemd) Close() { s.conn.Close() }

// Start starts a unit and waits for the job's result. Never use it on a unit
// ordered after the caller's own unit: that job waits for us and deadlocks.
func (s *Systemd) Start(ctx context.Context, name string) error {
	s.resetFailed(ctx, name)
	return s.job(ctx, name, "start", s.conn.StartUnitContext)
}

// Restart restarts a unit and waits for the job's result.
func (s *Systemd) Restart(ctx context.Context, name string) error {
	s.resetFailed(ctx, name)
	return s.job(ctx, name, "restart", s.conn.RestartUnitContext)
}

// resetFailed clears a unit's failed state and its start-limit counter
// before a start asked for: systemd's own restarts after crashes (or a
// fenced database refused at each of them) may have used the limit up, and
// a deliberate start (rejoin, repair) must not be refused for that. A unit
// that is not loaded or not failed has nothing to reset.
func (s *Systemd) resetFailed(ctx context.Context, name string) {
	_ = s.conn.ResetFailedUnitContext(ctx, name)
}

// Stop stops a unit and waits for the job's result.
func (s *Systemd) Stop(ctx context.Context, name string) error {
	return s.job(ctx, name, "stop", s.conn.StopUnitContext)
}

// Reload reloads a unit and waits.
func (s *Systemd) Reload(ctx context.Context, name string) error {
	return s.job(ctx, name, "reload", s.conn.ReloadUnitContext)
}

// Enqueue starts a unit without waiting: for units ordered after the caller.
func (s *Systemd) Enqueue(ctx context.Context, name string) error {
	_, err := s.conn.StartUnitContext(ctx, name, "replace", nil)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	return nil
}

func (s *Systemd) job(ctx context.Context, name, verb string, call func(context.Context, string, string, chan<- string) (int, error)) error {
	ch := make(chan string, 1)
	if _, err := call(ctx, name, "replace", ch); err != nil {
		return fmt.Errorf("%s %s: %w", verb, name, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("%s %s: job %s (see journalctl -u %s)", verb, name, res, name)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s %s: %w", verb, name, ctx.Err())
	}
}

// Enable enables unit files (wants links per their [Install]).
func (s *Systemd) Enable(ctx context.Context, names ...string) error {
	if _, _, err := s.conn.EnableUnitFilesContext(ctx, names, false, true); err != nil {
		return fmt.Errorf("enable %v: %w", names, err)
	}
	return s.DaemonReload(ctx)
}

// Disable removes unit files' wants links.
func (s *Systemd) Disable(ctx context.Context, names ...string) error {
	if _, err := s.conn.DisableUnitFilesContext(ctx, names, false); err != nil {
		return fmt.Errorf("disable %v: %w", names, err)
	}
	return s.DaemonReload(ctx)
}

// DaemonReload makes systemd read changed unit files.
func (s *Systemd) DaemonReload(ctx context.Context) error {
	if err := s.conn.ReloadContext(ctx); err != nil {
		return fmt.Errorf("daemon-reload: %w", err)
	}
	return nil
}

// ActiveState returns a unit's ActiveState (active, inactive, failed, ...).
func (s *Systemd) ActiveState(ctx context.Context, name string) (string, error) {
	p, err := s.conn.GetUnitPropertyContext(ctx, name, "ActiveState")
	if err != nil {
		return "", fmt.Errorf("state of %s: %w", name, err)
	}
	v, _ := p.Value.Value().(string)
	return v, nil
}

// Loaded tells whether a unit exists (LoadState is not "not-found").
func (s *Systemd) Loaded(ctx context.Context, name string) (bool, error) {
	p, err := s.conn.GetUnitPropertyContext(ctx, name, "LoadState")
	if err != nil {
		return false, fmt.Errorf("load state of %s: %w", name, err)
	}
	v, _ := p.Value.Value().(string)
	return v != "not-found", nil
}

// UnitFileState returns enabled, disabled, static, ...
func (s *Systemd) UnitFileState(ctx context.Context, name string) (string, error) {
	p, err := s.conn.GetUnitPropertyContext(ctx, name, "UnitFileState")
	if err != nil {
		return "", fmt.Errorf("unit file state of %s: %w", name, err)
	}
	v, _ := p.Value.Value().(string)
	return v, nil
}

// Notify sends sd_notify status to systemd when running under it.
func Notify(status string) {
	daemon.SdNotify(false, "STATUS="+status)
}

// ExtendTimeout asks systemd for more start time during a long wait.
func ExtendTimeout(usec uint64) {
	daemon.SdNotify(false, fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", usec))
}
