package securityserver

import (
	"context"
	"fmt"
	"time"

	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/join"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/nodestate"
	"xroad-appliance/units"
)

// joinService lets secondaries join by token (a primary whose document has
// a join section): the cluster CA's key and the document's tokens go to the
// join service's store, root only, and the service is enabled and queued;
// it starts once provisioning is done, since admitting a node runs the
// members phases.
func (n *Node) joinService() engine.Phase {
	j := n.Doc.Join
	return engine.Phase{
		Name: "join-service", Summary: fmt.Sprintf("%s admits secondaries joining by token on port %d", units.JoinUnit, j.Port),
		Actions: []string{
			fmt.Sprintf("install the cluster CA key and %d join token(s) in %s (0600 root)", len(j.Tokens), nodestate.JoinDir),
			"systemctl enable " + units.JoinUnit, "systemctl start --no-block " + units.JoinUnit,
		},
		Check: func(ctx context.Context) (bool, error) {
			store, err := join.OpenStore(n.State.JoinDir())
			if err != nil {
				return false, err
			}
			if _, err := store.CAKey(); err != nil {
				return false, nil
			}
			missing, err := n.missingTokens(store)
			if err != nil || len(missing) > 0 {
				return false, err
			}
			st, err := n.Systemd.UnitFileState(ctx, units.JoinUnit)
			return st == "enabled", err
		},
		Apply: func(ctx context.Context) error {
			store, err := join.OpenStore(n.State.JoinDir())
			if err != nil {
				return err
			}
			if err := store.SetCAKey([]byte(j.CAKey)); err != nil {
				return err
			}
			missing, err := n.missingTokens(store)
			if err != nil {
				return err
			}
			for _, t := range missing {
				tok, err := t.ParseToken()
				if err != nil {
					return err
				}
				if err := store.Add(tok, t.Expires, t.Uses, time.Now()); err != nil {
					return err
				}
			}
			if err := n.Systemd.Enable(ctx, units.JoinUnit); err != nil {
				return err
			}
			return n.Systemd.Enqueue(ctx, units.JoinUnit)
		},
	}
}

// missingTokens are the document's tokens the store does not hold; one
// used up or expired since stays in the store and is not added again.
func (n *Node) missingTokens(store *join.Store) ([]metadata.JoinToken, error) {
	held, err := store.Tokens()
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, t := range held {
		have[t.ID] = true
	}
	var missing []metadata.JoinToken
	for _, t := range n.Doc.Join.Tokens {
		tok, err := t.ParseToken()
		if err != nil {
			return nil, err
		}
		if !have[tok.ID] {
			missing = append(missing, t)
		}
	}
	return missing, nil
}
