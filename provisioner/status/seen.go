package status

import (
	"errors"
	"fmt"
	"time"

	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/syncserve"
)

// probeSeen reads when each secondary last synced, as serve-sync records it
// in the sync user's home on the primary.
func probeSeen(c *Inputs) (map[string]time.Time, error) {
	if c.SyncHome == "" {
		return nil, errors.New("the sync user's home is unknown without the platform facts")
	}
	seen, err := syncserve.LastSeen(c.SyncHome)
	if err != nil {
		return nil, fmt.Errorf("last syncs: %w", err)
	}
	return seen, nil
}

// lastSeenOf is the report's lastSeen: every secondary the document lists,
// nil when never seen. Members that left the document are not reported.
func lastSeenOf(doc *metadata.Document, seen map[string]time.Time) map[string]*time.Time {
	out := map[string]*time.Time{}
	if doc == nil {
		return out
	}
	for _, s := range doc.Secondaries {
		out[s.Name] = nil
		if t, ok := seen[s.Name]; ok {
			t = t.UTC().Truncate(time.Second)
			out[s.Name] = &t
		}
	}
	return out
}

// seenState is what the records say about one secondary at now: known is
// false when they could not be read; at is nil when it was never seen.
func (p *PrimaryState) seenState(name string, now time.Time) (known bool, at *time.Time, age time.Duration) {
	if p.LastSeenError != "" {
		return false, nil, 0
	}
	at, known = p.LastSeen[name]
	if !known || at == nil {
		return known, nil, 0
	}
	// A record ahead of the clock (the clock was set back) is fresh.
	return true, at, max(now.Sub(*at), 0)
}

// seenText tells a secondary that does not stream when it last synced, or
// "" when the records are unknown.
func (p *PrimaryState) seenText(name string, now time.Time) string {
	known, at, age := p.seenState(name, now)
	switch {
	case !known:
		return ""
	case at == nil:
		return "never seen"
	}
	return "last synced " + ago(age.Seconds()) + " ago"
}

// seenProblem names a secondary that does not stream and has not synced for
// longer than maxAge, or never: it may have left for good.
func (p *PrimaryState) seenProblem(name string, now time.Time, maxAge time.Duration) string {
	known, at, age := p.seenState(name, now)
	switch {
	case !known:
		return ""
	case at == nil:
		return fmt.Sprintf("secondary %s has never been seen", name)
	case age > maxAge:
		return fmt.Sprintf("secondary %s has not been seen for %s", name, age)
	}
	return ""
}

// withSeen is a standby table's state with the secondary's last sync.
func (p *PrimaryState) withSeen(state, name string, now time.Time) string {
	if seen := p.seenText(name, now); seen != "" {
		return state + ", " + seen
	}
	return state
}
