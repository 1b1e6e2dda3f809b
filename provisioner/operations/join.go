package operations

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"xroad-appliance/provisioner/atomicfile"
	"xroad-appliance/provisioner/join"
	"xroad-appliance/provisioner/jointoken"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/pemblock"
	"xroad-appliance/provisioner/securityserver"
	"xroad-appliance/units"
)

// admitsJoins refuses cmd on a node that cannot admit secondaries.
func (n *Node) admitsJoins(cmd string) error {
	if !n.isPrimary() {
		return refuse("%s: %s is a secondary; secondaries join the primary %s", cmd, n.Doc.Node, n.Doc.Primary.Name)
	}
	return nil
}

// ServeJoins is the primary's join service: it admits secondaries that
// present a valid token (Admit) and listens only while one is valid,
// returning once none is left (expired or used up).
func (n *Node) ServeJoins(ctx context.Context) error {
	if err := n.admitsJoins("join-service"); err != nil {
		n.Log.Info("not serving joins", "why", err)
		return nil
	}
	store, err := join.OpenStore(n.State.JoinDir())
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(securityserver.TLS.Cert, securityserver.TLS.Key)
	if err != nil {
		return fmt.Errorf("join service: the node's TLS identity: %w", err)
	}
	port := n.Doc.JoinPort()
	srv, err := join.NewServer(join.Config{
		Store: store, Cert: cert, Admit: n.Admit, Logger: n.Log,
		Info: join.ClusterInfo{Cluster: n.Doc.Cluster, CA: n.Doc.TLS.CA, Port: port,
			Primary: join.Member{Name: n.Doc.Node, Address: n.Doc.Primary.Address}},
	})
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	if valid, err := store.Pending(time.Now()); err != nil || !valid {
		n.Log.Info("no valid join token; not listening", "err", err)
		return err
	}
	go n.stopWhenSpent(ctx, store, stop)
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	n.Log.Info("admitting secondaries", "port", port, "cluster", n.Doc.Cluster)
	if err := srv.Serve(ctx, ln); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	n.Log.Info("no valid join token left; stopped listening")
	return nil
}

// stopWhenSpent calls stop once no token is valid, looking every few
// seconds: tokens expire, are used up, or are added by join-token.
func (n *Node) stopWhenSpent(ctx context.Context, store *join.Store, stop func()) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if valid, err := store.Pending(time.Now()); err == nil && !valid {
				stop()
				return
			}
		}
	}
}

// JoinToken makes a token valid for ttl that admits uses secondaries (0:
// any number), writes the join user-data every joining secondary boots
// with to out (a new file, 0600) and (re)starts the join service. caKey,
// when given, is the cluster CA's key (already checked against the CA),
// for a node that has none yet: a promoted secondary.
func (n *Node) JoinToken(ctx context.Context, ttl time.Duration, uses int, caKey []byte, out string) error {
	if err := n.admitsJoins("join-token"); err != nil {
		return err
	}
	store, err := join.OpenStore(n.State.JoinDir())
	if err != nil {
		return err
	}
	if caKey == nil {
		if _, err := store.CAKey(); err != nil {
			return refuse("join-token: this node has no cluster CA key (%v); pass --ca-key with the kit's", err)
		}
	}
	ca, err := pemblock.Certificate([]byte(n.Doc.TLS.CA))
	if err != nil {
		return err
	}
	tok, err := jointoken.New()
	if err != nil {
		return err
	}
	seed := &metadata.JoinDocument{Version: metadata.Version, Cluster: n.Doc.Cluster, Role: metadata.RoleSecondary,
		Join: metadata.JoinTarget{Primary: n.Doc.Primary.Address, Port: n.Doc.JoinPort(), Token: tok.Value(), CAPin: jointoken.Pin(ca)}}
	doc, err := seed.Marshal()
	if err != nil {
		return err
	}
	userData, err := metadata.ToUserData(doc)
	if err != nil {
		return err
	}
	// The file first: a token nobody can read is no use.
	if err := atomicfile.Create(out, userData, 0o600); err != nil {
		return err
	}
	if caKey != nil {
		if err := store.SetCAKey(caKey); err != nil {
			os.Remove(out)
			return err
		}
	}
	now := time.Now()
	expires := now.Add(ttl).UTC().Truncate(time.Second)
	if err := store.Add(tok, expires, uses, now); err != nil {
		os.Remove(out)
		return err
	}
	if err := n.Systemd.Enable(ctx, units.JoinUnit); err != nil {
		return err
	}
	if err := n.Systemd.Restart(ctx, units.JoinUnit); err != nil {
		return err
	}
	admits := "any number of secondaries"
	switch {
	case uses == 1:
		admits = "one secondary"
	case uses > 1:
		admits = fmt.Sprintf("at most %d secondaries", uses)
	}
	n.say("%s admits %s until %s; the join user-data is in %s (it holds the token: keep it like a password)",
		tok, admits, expires.Format(time.RFC3339), out)
	return nil
}
