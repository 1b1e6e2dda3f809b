package operations

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/retry"
)

// replayState is the standby's recovery as the replay commands need it.
type replayState struct {
	paused          bool
	receive, replay string // LSNs; "" before anything was received
	caughtUp        bool
}

// standby connects to the serverconf instance and refuses unless it is in
// recovery.
func (n *Node) standby(ctx context.Context, cmd string) (*pgx.Conn, error) {
	if err := n.secondaryOnly(cmd); err != nil {
		return nil, err
	}
	conn, err := pg.Local(ctx, n.Facts.PG.Serverconf.Port, "postgres")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	in, err := pg.InRecovery(ctx, conn)
	if err == nil && !in {
		err = refuse("%s: the serverconf instance on port %d is not in recovery (promoted?)", cmd, n.Facts.PG.Serverconf.Port)
	}
	if err != nil {
		conn.Close(ctx)
		return nil, err
	}
	return conn, nil
}

func (n *Node) replayState(ctx context.Context, conn *pgx.Conn) (replayState, error) {
	fn := n.Facts.PG.Functions
	var s replayState
	var receive, replay *string
	q := fmt.Sprintf("SELECT %s(), %s()::text, %s()::text", fn.ReplayPaused, fn.LastReceive, fn.LastReplay)
	if err := conn.QueryRow(ctx, q).Scan(&s.paused, &receive, &replay); err != nil {
		return s, err
	}
	if receive != nil {
		s.receive = *receive
	}
	if replay != nil {
		s.replay = *replay
	}
	if receive != nil && replay != nil {
		q = fmt.Sprintf("SELECT %s(%s(), %s()) <= 0", fn.LSNDiff, fn.LastReceive, fn.LastReplay)
		if err := conn.QueryRow(ctx, q).Scan(&s.caughtUp); err != nil {
			return s, err
		}
	}
	return s, nil
}

// ReplayPause pauses WAL replay (guide 7.2.1 step 1): the standby keeps
// receiving but applies nothing.
func (n *Node) ReplayPause(ctx context.Context) error { return n.setReplay(ctx, true) }

// ReplayResume resumes WAL replay (guide 7.2.3 step 3).
func (n *Node) ReplayResume(ctx context.Context) error { return n.setReplay(ctx, false) }

func (n *Node) setReplay(ctx context.Context, pause bool) error {
	cmd, fn, done := "replay resume", n.Facts.PG.Functions.ReplayResume, "resumed"
	if pause {
		cmd, fn, done = "replay pause", n.Facts.PG.Functions.ReplayPause, "paused"
	}
	conn, err := n.standby(ctx, cmd)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	s, err := n.replayState(ctx, conn)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if s.paused == pause {
		n.say("WAL replay already %s (receive %s, replay %s)", done, orNone(s.receive), orNone(s.replay))
		return nil
	}
	if _, err := conn.Exec(ctx, "SELECT "+fn+"()"); err != nil {
		return fmt.Errorf("%s: %s(): %w", cmd, fn, err)
	}
	n.say("WAL replay %s with %s() (receive %s, replay %s)", done, fn, orNone(s.receive), orNone(s.replay))
	return nil
}

// ReplayWait waits until replay has applied everything received (guide
// 7.2.3 step 3's check, receive = replay LSN).
func (n *Node) ReplayWait(ctx context.Context, timeout time.Duration) error {
	conn, err := n.standby(ctx, "replay wait")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var s replayState
	err = retry.Every(ctx, 200*time.Millisecond, timeout, func(ctx context.Context) (bool, error) {
		var err error
		if s, err = n.replayState(ctx, conn); err != nil {
			return false, fmt.Errorf("replay wait: %w", err)
		}
		if s.paused {
			return false, refuse("replay wait: WAL replay is paused and would never catch up; run `xroad-node replay resume` first")
		}
		return s.caughtUp, nil
	})
	if errors.Is(err, retry.ErrTimedOut) {
		return fmt.Errorf("replay wait: not caught up within %s: receive %s, replay %s", timeout, orNone(s.receive), orNone(s.replay))
	}
	if err != nil {
		return err
	}
	n.say("WAL replay caught up: receive %s = replay %s", s.receive, s.replay)
	return nil
}

func orNone(lsn string) string {
	if lsn == "" {
		return "none"
	}
	return lsn
}

// replayPaused tells whether WAL replay is paused on this standby.
func (n *Node) replayPaused(ctx context.Context) (bool, error) {
	conn, err := n.standby(ctx, "replay")
	if err != nil {
		return false, err
	}
	defer conn.Close(ctx)
	st, err := n.replayState(ctx, conn)
	return st.paused, err
}
