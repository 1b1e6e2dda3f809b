package join

import (
	"sync"

	"golang.org/x/time/rate"
)

// Limits is a token bucket: Rate requests a second, up to Burst at once.
type Limits struct {
	Rate  rate.Limit
	Burst int
}

// Defaults: a cluster admits a handful of nodes at a time, each with two
// requests and a few retries.
var (
	DefaultLimits     = Limits{Rate: 5, Burst: 20}
	DefaultPeerLimits = Limits{Rate: 1, Burst: 5}
)

// maxPeers bounds the per-address buckets, so that requests from many
// addresses cannot grow the map without end.
const maxPeers = 1024

// limiter is a global bucket plus one per source address.
type limiter struct {
	global *rate.Limiter
	peer   Limits

	mu    sync.Mutex
	peers map[string]*rate.Limiter
}

func newLimiter(global, peer Limits) *limiter {
	return &limiter{global: rate.NewLimiter(global.Rate, global.Burst), peer: peer, peers: map[string]*rate.Limiter{}}
}

// allow takes one request from addr's bucket and then the global one: an
// address over its own limit does not use up everyone's.
func (l *limiter) allow(addr string) bool {
	l.mu.Lock()
	p := l.peers[addr]
	if p == nil {
		if len(l.peers) >= maxPeers {
			l.prune()
		}
		p = rate.NewLimiter(l.peer.Rate, l.peer.Burst)
		l.peers[addr] = p
	}
	ok := p.Allow()
	l.mu.Unlock()
	return ok && l.global.Allow()
}

// prune drops the buckets that have refilled (their addresses were quiet);
// when none has, it drops all: the global bucket still bounds the load.
func (l *limiter) prune() {
	for addr, p := range l.peers {
		if p.Tokens() >= float64(l.peer.Burst) {
			delete(l.peers, addr)
		}
	}
	if len(l.peers) >= maxPeers {
		clear(l.peers)
	}
}
