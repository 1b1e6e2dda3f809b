package status

import (
	"time"
	"xroad-appliance/provisioner/engine"
)

// Schema names the JSON shape described in the package documentation.
const Schema = "xroad-node-status/v1"

// Report is one look at the node.
type Report struct {
	Schema       string          `json:"schema"`
	Time         time.Time       `json:"time"`
	Healthy      bool            `json:"healthy"`
	Problems     []string        `json:"problems"`
	Node         Node            `json:"node"`
	Serverconf   Serverconf      `json:"serverconf"`
	Primary      *PrimaryState   `json:"primary"`
	Secondary    *SecondaryState `json:"secondary"`
	Sync         *Sync           `json:"sync"`
	Provisioning Provisioning    `json:"provisioning"`
	// Identity is the per-install material and where this node got it.
	Identity    []Identity  `json:"identity"`
	HealthCheck HealthCheck `json:"healthCheck"`
	// CentralServer is set on the central-server HA roles, whose report has
	// no serverconf, replication, sync or health check section.
	CentralServer *CentralServer `json:"centralServer,omitempty"`
}

// Node is the identity from the role document.
type Node struct {
	Role    string `json:"role"`
	Name    string `json:"name"`
	Cluster string `json:"cluster"`
	Source  string `json:"source"`
	// ProvisionedAs is the role the node was provisioned in, when a promote
	// or repoint has since changed where it stands.
	ProvisionedAs string `json:"provisionedAs,omitempty"`
	Changed       string `json:"changed,omitempty"` // by which command, when
	Error         string `json:"error,omitempty"`
}

// Serverconf is the separate serverconf PostgreSQL instance.
type Serverconf struct {
	Unit               string `json:"unit"`
	UnitState          string `json:"unitState"`
	UnitError          string `json:"unitError,omitempty"`
	Port               int    `json:"port"`
	AcceptsConnections bool   `json:"acceptsConnections"`
	Error              string `json:"error,omitempty"`
}

// PrimaryState is replication as the primary sees it.
type PrimaryState struct {
	InRecovery  *bool     `json:"inRecovery"`
	Secondaries []Standby `json:"secondaries"`
	Missing     []string  `json:"missing"`
	Error       string    `json:"error,omitempty"`
	// LastSeen is, for each secondary the document lists, when it last
	// started a configuration sync (serve-sync's record); nil when never or
	// when LastSeenError says the records could not be read.
	LastSeen      map[string]*time.Time `json:"lastSeen"`
	LastSeenError string                `json:"lastSeenError,omitempty"`
}

// Standby is one row of pg_stat_replication.
type Standby struct {
	Name             string   `json:"name"`
	Expected         bool     `json:"expected"`
	ClientAddr       string   `json:"clientAddr"`
	State            string   `json:"state"`
	SyncState        string   `json:"syncState"`
	SentLSN          string   `json:"sentLsn"`
	WriteLSN         string   `json:"writeLsn"`
	FlushLSN         string   `json:"flushLsn"`
	ReplayLSN        string   `json:"replayLsn"`
	ReplayLagBytes   *int64   `json:"replayLagBytes"`
	ReplayLagSeconds *float64 `json:"replayLagSeconds"`
}

// SecondaryState is the standby's own view of its recovery.
type SecondaryState struct {
	InRecovery   *bool      `json:"inRecovery"`
	ReplayPaused *bool      `json:"replayPaused"`
	WalReceiver  string     `json:"walReceiver"`
	ReceiveLSN   string     `json:"receiveLsn"`
	ReplayLSN    string     `json:"replayLsn"`
	LagBytes     *int64     `json:"lagBytes"`
	LastReplay   *time.Time `json:"lastReplay"`
	Error        string     `json:"error,omitempty"`
}

// Sync is the configuration sync from the primary (guide 5.2).
type Sync struct {
	Log          string   `json:"log"`
	Disabled     bool     `json:"disabled"`
	DisabledFlag string   `json:"disabledFlag"`
	LastRun      *SyncRun `json:"lastRun"`
	Error        string   `json:"error,omitempty"`
}

// SyncRun is the last finished rsync run found in the sync log.
type SyncRun struct {
	Time       time.Time `json:"time"`
	AgeSeconds float64   `json:"ageSeconds"`
	OK         bool      `json:"ok"`
	ExitCode   int       `json:"exitCode"`
	Changes    int       `json:"changes"`
	Message    string    `json:"message"`
	File       string    `json:"file"`
}

// Provisioning is what the provisioner's stamps and result file say.
type Provisioning struct {
	Provisioned bool     `json:"provisioned"`
	Done        []string `json:"done"`
	Pending     []string `json:"pending"`
	Result      *Result  `json:"result"`
	// MovedAside are the directories beside the node's PostgreSQL data
	// directories that provisioning moved aside or left.
	MovedAside []MovedAside `json:"movedAside"`
	Error      string       `json:"error,omitempty"`
}

// MovedAside is one directory beside a data directory: a data directory a
// base backup replaced (kept: it may hold someone's data), or a base backup
// that was interrupted (the provisioner's own copy, removed by its next run).
type MovedAside struct {
	Path  string `json:"path"`
	Kind  string `json:"kind"` // replaced, interrupted
	Bytes int64  `json:"bytes"`
}

// Result is result.json of the last provisioning run.
type Result struct {
	Status string    `json:"status"`
	Phase  string    `json:"phase"`
	Error  string    `json:"error"`
	Retry  string    `json:"retry"`
	Time   time.Time `json:"time"`
	// Attempts are the failures met on the way (result.json's attempts).
	Attempts []Attempt `json:"attempts"`
}

// Attempt is one failed try: retried within a run, ending a run, or a run
// that ended without a result (result.json's own form).
type Attempt = engine.Attempt

// HealthCheck is the proxy health check's answer (guide 3.4).
type HealthCheck struct {
	URL        string `json:"url"`
	StatusCode int    `json:"statusCode"`
	FirstLine  string `json:"firstLine"`
	Error      string `json:"error,omitempty"`
}
