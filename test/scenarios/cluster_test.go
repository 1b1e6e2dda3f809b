package scenarios

import (
	"context"
	"testing"
	"time"

	"xroad-appliance/test/cluster"
)

func TestPrimaryAndTwoSecondaries(t *testing.T) {
	tc := newCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	nodes := []*cluster.Node{}
	for _, name := range []string{"ss1", "ss2", "ss3"} {
		nodes = append(nodes, tc.boot(t, name))
	}
	for _, n := range nodes {
		waitProvisioned(t, ctx, n)
	}
}
