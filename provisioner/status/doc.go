// Package status reports a security-server cluster node's state: its role,
// the serverconf instance, database replication, configuration sync,
// provisioning progress and the health check, summed up as one healthy flag
// and a list of problems. On the central-server HA roles it reports
// provisioning and a centralServer section instead. Each probe runs with its
// own deadline; a probe that fails or hangs is reported and the others still
// run.
//
// # JSON
//
// `xroad-node status --json` prints a Report. Field names are stable within a
// schema ("xroad-node-status/v1"); every key below is always present unless
// marked "omitted when empty". Unknown values are null.
//
//	schema                      "xroad-node-status/v1"
//	time                        when the report was taken (RFC 3339, UTC)
//	healthy                     true when problems is empty
//	problems                    [string], one sentence each; [] when healthy
//	node.role                   "primary", "secondary" or "" when unknown
//	node.name, node.cluster     from the role document
//	node.source                 where the document was read ("frozen:/var/lib/xroad-node/metadata.yaml")
//	node.error                  omitted when empty
//	serverconf.unit             systemd unit of the serverconf instance
//	serverconf.unitState        its ActiveState ("active", "failed", ...); "" when unknown
//	serverconf.unitError        omitted when empty
//	serverconf.port             the instance's port
//	serverconf.acceptsConnections
//	serverconf.error            omitted when empty
//	primary                     null unless the role is primary
//	primary.inRecovery          bool or null
//	primary.secondaries         [standby] from pg_stat_replication, [] when none
//	  .name                     application_name (the secondary's node name)
//	  .expected                 whether the role document lists it
//	  .clientAddr               "" over a Unix socket
//	  .state, .syncState        as pg_stat_replication says ("streaming", "async")
//	  .sentLsn .writeLsn .flushLsn .replayLsn
//	  .replayLagBytes           current WAL position minus replayLsn, or null
//	  .replayLagSeconds         replay_lag in seconds, or null (idle, or before PostgreSQL 10)
//	primary.missing             [string] expected secondaries with no replication connection
//	primary.lastSeen            {name: time} for every secondary the role document lists: when it last
//	                            started a configuration sync (RFC 3339), as serve-sync records it in the
//	                            sync user's home (seen/NAME); null when never, or when unreadable
//	primary.lastSeenError       why the records could not be read; omitted when empty
//	primary.error               omitted when empty
//	secondary                   null unless the role is secondary
//	secondary.inRecovery        bool or null
//	secondary.replayPaused      bool or null
//	secondary.walReceiver       pg_stat_wal_receiver status ("streaming"); "none" without a receiver; "" when unknown
//	secondary.receiveLsn, .replayLsn
//	secondary.lagBytes          receiveLsn minus replayLsn, or null
//	secondary.lastReplay        time of the last replayed transaction, or null
//	secondary.error             omitted when empty
//	sync                        null on the primary
//	sync.log                    the sync log read
//	sync.disabled               whether the sync-disabled flag exists
//	sync.disabledFlag           the flag's path
//	sync.lastRun                null when no finished run is logged
//	  .time                     when the run ended (RFC 3339)
//	  .ageSeconds               seconds since then
//	  .ok                       rsync exited 0
//	  .exitCode                 rsync's exit code
//	  .changes                  files and directories the run changed
//	  .message                  rsync's summary or error lines
//	  .file                     the log file the run was found in (a rotated log after rotation)
//	sync.error                  omitted when empty
//	provisioning.provisioned    the final stamp exists
//	provisioning.done           [string] phases with a stamp, in plan order
//	provisioning.pending        [string] phases of the plan without a stamp, or null when the plan is unknown
//	provisioning.result         result.json of the last run, or null
//	  .status                   "running", "provisioned", "failed" or "phase-done"
//	  .phase, .error, .retry    the failed (or repaired) phase and how to retry
//	  .time
//	  .attempts                 [object] failures on the way, oldest first: .time, .phase,
//	                            .outcome ("retried", "failed", "interrupted"), .error
//	provisioning.movedAside     [object] directories beside the PostgreSQL data directories:
//	  .path                     DATADIR.replaced-TIME (kept: may hold someone's data) or a base
//	                            backup left behind (DATADIR.xroad-basebackup[.interrupted-TIME])
//	  .kind                     "replaced" or "interrupted"
//	  .bytes                    the size of the files in it
//	provisioning.error          omitted when empty
//	identity                    [object] the per-install material the image leaves out, or null when
//	                            the role has none (database nodes) or document and facts are unknown
//	  .item                     e.g. "/etc/xroad/ssl/internal.{crt,key,p12}", "admin user xroad-admin"
//	  .origin                   "generated here", "synced from the primary" or "replicated from the primary"
//	  .phase                    the provisioning phase that brought it
//	  .time                     when that phase was done, or null while it is pending
//	healthCheck.url             the proxy health check URL asked
//	healthCheck.statusCode      HTTP status, 0 when there was no answer
//	healthCheck.firstLine       first line of the body ("" for the healthy empty body)
//	healthCheck.error           omitted when empty
//	centralServer               omitted unless the role is cs-db-primary, cs-db-standby or cs-node;
//	                            its keys are omitted when empty
//	centralServer.unit, .unitState
//	                            database nodes: the PostgreSQL instance's unit and its ActiveState
//	centralServer.inRecovery    database nodes
//	centralServer.standbys      cs-db-primary: [standby] from pg_stat_replication, keys as primary.secondaries
//	                            (.replayLagBytes, .replayLagSeconds: the replay lag)
//	centralServer.missing       cs-db-primary: [string] standbys of the role document not streaming
//	centralServer.walReceiver   cs-db-standby: as secondary.walReceiver
//	centralServer.receiveLsn, .replayLsn
//	centralServer.lagBytes      cs-db-standby: receiveLsn minus replayLsn
//	centralServer.lastReplay    cs-db-standby: time of the last replayed transaction
//	centralServer.lastReplayAgeSeconds
//	                            cs-db-standby: seconds since then
//	centralServer.haNodeName    cs-node: its [center] ha-node-name
//	centralServer.writable      cs-node: the database server that took a read-write session
//	centralServer.haCluster     cs-node: the central server's HA cluster status (HA guide 5)
//	  .url                      the status API asked
//	  .apiKeyFile               the API key's file (/etc/xroad-node/center-api-key); the key never shows
//	  .asked                    false when there is no API key file
//	  .haConfigured             the API's ha_configured, or null
//	  .nodeName                 the API's node_name
//	  .allNodesOk               the API's all_nodes_ok, or null
//	  .nodes                    [node] as the configuration database records them, [] when unknown
//	    .name, .address         node_name, node_address
//	    .configurationGenerated configuration_generated as the API gives it, null when never
//	    .status                 "OK", "WARN", "ERROR" or "UNKNOWN"
//	  .error                    omitted when empty
//	centralServer.error         omitted when empty
//
// The report never carries secrets: it holds no passwords, keys or
// certificates from the role document, nor the central server's API key.
package status
