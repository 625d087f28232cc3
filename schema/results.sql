-- schema/results.sql: the shadowvt results database, schema version 4.
--
-- This is the whole current schema, as a new database gets it; it is
-- compiled into shadowvt (sim/results/results-sql.c), and `sqlite3 FILE <
-- schema/results.sql` makes an empty results database by hand.  Older
-- databases are brought forward by the migration steps in sim/results/db.c, which
-- change tables only: views are always dropped and recreated from here,
-- and tables and indexes this file has and a database lacks are created
-- from here.  So: change a table here and add a step there; change a view
-- here and nothing else.  Raise user_version and SVT_DB_VERSION together.
--
-- Values: every number the replay writes is an unsigned 64-bit integer,
-- stored as SQLite's signed 64-bit INTEGER.  Values of 2^63 and above
-- (kernel addresses in the upper canonical half, entries with NX set) read
-- back negative in raw SQL; printf('0x%x', v) prints them right, and the
-- views below print addresses and entries that way.  Numbers in the views
-- that are not addresses stay integers.
--
-- One row per run, per violation found, per timeline interval and per
-- counter: never one per event.

PRAGMA application_id = 1398166610;     -- 0x53565452, 'SVTR'
PRAGMA user_version = 4;

-- ---- tables ----------------------------------------------------------------

-- One replay of one trace under one policy.  The row is written, with
-- status 'running', when the replay starts, and completed when it ends; a
-- replay that was killed leaves it 'running' (the query command shows it
-- as 'incomplete?' once process pid is gone from host).
CREATE TABLE runs (
	id INTEGER PRIMARY KEY,
	trace TEXT NOT NULL,            -- the trace file as named on the command line
	trace_checksum TEXT,            -- 'crc32c:XXXXXXXX' of the whole file
	guest TEXT,                     -- the trace header's guest description
	workload TEXT,                  -- synth workload, or ''
	policy TEXT NOT NULL,           -- canonical policy string
	recorded_policy INTEGER NOT NULL DEFAULT 0,     -- 1: the policy the trace was made with
	audit TEXT,                     -- audit level name
	tool_version TEXT,
	trace_events INTEGER,           -- events in the trace
	pid INTEGER,                    -- the replaying process, on host
	host TEXT,
	started TEXT NOT NULL,          -- ISO 8601, UTC: 2024-11-25T00:15:00.000Z
	finished TEXT,                  -- likewise; NULL while running
	seconds REAL,                   -- replay wall time
	status TEXT NOT NULL DEFAULT 'running'
		CHECK (status IN ('running', 'clean', 'violations', 'bad-input', 'incomplete')),
	events INTEGER,                 -- events replayed
	violations INTEGER,             -- violations found (rows stored may be fewer)
	divergence_seq INTEGER,         -- first event where replay decisions diverged
	message TEXT,                   -- why it ended, if not cleanly
	whatif TEXT                     -- 'recorded', 'exact' or 'approximate' (docs/replay.md,
					-- What-ifs); NULL: an older shadowvt's run
);
CREATE INDEX runs_checksum ON runs (trace_checksum);

-- One invariant violation, with the entries involved and the event range
-- that reproduces it.
CREATE TABLE violations (
	run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	seq INTEGER NOT NULL,           -- event it was found at
	invariant TEXT NOT NULL,        -- 'INV-PERM', ...
	va INTEGER,
	gfn INTEGER,
	level INTEGER,
	guest_entry INTEGER,
	shadow_entry INTEGER,
	what TEXT,                      -- a sentence
	from_seq INTEGER,
	to_seq INTEGER
);
CREATE INDEX violations_run_seq ON violations (run, seq);

-- The run's final counters, by name.
CREATE TABLE counters (
	run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	value INTEGER NOT NULL,
	PRIMARY KEY (run, name)
) WITHOUT ROWID;

-- What happened between events first_seq and last_seq (one interval every
-- so many events): after events, one column per counter of the core
-- (SVT_COUNTERS in src/svt.h, where each is described).  A counter of
-- kind COUNT holds how much it grew in the interval; one of kind LEVEL
-- (pool_used, the shadow pages in use, and pool_free) its value at the
-- interval's end.  The columns from emulated_wp0 on came with schema
-- version 3, and are NULL in intervals written before it.  A new counter
-- is a column here (at the end) and a migration step in sim/results/db.c;
-- tests/test-db-counters.c checks that the two lists agree.
CREATE TABLE timeline (
	run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	first_seq INTEGER NOT NULL,
	last_seq INTEGER NOT NULL,
	events INTEGER NOT NULL,
	faults INTEGER NOT NULL,        -- page-fault exits
	fixed INTEGER NOT NULL,         -- ... fixed by propagating a shadow entry
	ad_faults INTEGER NOT NULL,     -- ... fixed by setting guest A/D bits
	injected INTEGER NOT NULL,      -- ... reflected to the guest
	emulated INTEGER NOT NULL,      -- ... page-table writes emulated
	mmio INTEGER NOT NULL,          -- ... device memory
	retries INTEGER NOT NULL,       -- ... nothing to do
	oos INTEGER NOT NULL,           -- pages taken out of sync
	resyncs INTEGER NOT NULL,
	unshadows INTEGER NOT NULL,
	evictions INTEGER NOT NULL,
	prefetched INTEGER NOT NULL DEFAULT 0,
	cr_writes INTEGER NOT NULL,     -- exits: CR0/CR3/CR4/EFER writes
	invlpgs INTEGER NOT NULL,       -- exits: INVLPG
	flushes INTEGER NOT NULL,       -- exits: whole-TLB flushes
	pool_used INTEGER NOT NULL,     -- shadow pages in use at the end (version 2: shadow_pages)
	emulated_wp0 INTEGER,
	early_unshadows INTEGER,
	resyncs_va INTEGER,
	cr3_noflush INTEGER,
	shadows_made INTEGER,
	resets INTEGER,
	invpcids INTEGER,
	pool_free INTEGER,
	env_errors INTEGER
);
CREATE INDEX timeline_run_seq ON timeline (run, first_seq);

-- ---- views -------------------------------------------------------------------
-- The common questions.  Views use built-in functions only, so they work
-- in the sqlite3 shell too; the query command's reports are built on them.

-- One row per run.  A run whose process died stays 'running' here.
CREATE VIEW run_summary AS
SELECT id AS run, trace, trace_checksum, workload, policy, recorded_policy, audit, status,
	events, trace_events, violations, divergence_seq AS divergence,
	round(seconds, 3) AS seconds,
	CASE WHEN seconds > 0 THEN CAST(round(events / seconds) AS INTEGER) END AS events_per_s,
	started, finished, pid, host, message
FROM runs;

-- Each violation with its run's context, addresses and entries in hex.
CREATE VIEW violation_context AS
SELECT v.run, r.trace, r.policy, r.audit, v.seq, v.invariant,
	CASE WHEN v.va IS NOT NULL THEN printf('0x%x', v.va) END AS va,
	CASE WHEN v.gfn IS NOT NULL THEN printf('0x%x', v.gfn) END AS gfn,
	v.level,
	CASE WHEN v.guest_entry IS NOT NULL THEN printf('0x%016x', v.guest_entry) END AS guest_entry,
	CASE WHEN v.shadow_entry IS NOT NULL THEN printf('0x%016x', v.shadow_entry) END AS shadow_entry,
	v.what, v.from_seq, v.to_seq,
	CASE WHEN v.from_seq IS NOT NULL THEN v.from_seq || '..' || v.to_seq END AS reproduce
FROM violations v JOIN runs r ON r.id = v.run;

-- The timeline summed per run (runs without intervals have no row).
CREATE VIEW run_totals AS
SELECT run, count(*) AS intervals, sum(events) AS events, sum(faults) AS faults,
	sum(fixed) AS fixed, sum(ad_faults) AS ad_faults, sum(injected) AS injected,
	sum(emulated) AS emulated, sum(mmio) AS mmio, sum(retries) AS retries,
	sum(oos) AS oos, sum(resyncs) AS resyncs, sum(unshadows) AS unshadows,
	sum(evictions) AS evictions, sum(prefetched) AS prefetched,
	sum(cr_writes) AS cr_writes, sum(invlpgs) AS invlpgs, sum(flushes) AS flushes,
	sum(faults) + sum(cr_writes) + sum(invlpgs) + sum(flushes) AS exits,
	max(pool_used) AS peak_shadow_pages
FROM timeline GROUP BY run;

-- Fault and exit mix per run.  Exits are the events that cost a VM exit:
-- page faults, control-register writes, INVLPGs and TLB flushes (INVPCIDs,
-- the invpcids column since version 3, are not counted in exits yet);
-- fixed, ad_faults, injected, emulated, mmio and retries are what the
-- faults turned out to be, and their _pct columns are shares of faults.
CREATE VIEW fault_mix AS
SELECT r.id AS run, r.policy, t.events, t.exits,
	round(100.0 * t.exits / nullif(t.events, 0), 1) AS exits_pct,
	t.faults, t.fixed, t.ad_faults, t.injected, t.emulated, t.mmio, t.retries,
	t.cr_writes, t.invlpgs, t.flushes,
	round(100.0 * t.faults / nullif(t.exits, 0), 1) AS faults_pct,
	round(100.0 * t.fixed / nullif(t.faults, 0), 1) AS fixed_pct,
	round(100.0 * t.ad_faults / nullif(t.faults, 0), 1) AS ad_pct,
	round(100.0 * t.injected / nullif(t.faults, 0), 1) AS injected_pct,
	round(100.0 * t.emulated / nullif(t.faults, 0), 1) AS emulated_pct,
	round(100.0 * t.mmio / nullif(t.faults, 0), 1) AS mmio_pct,
	round(100.0 * t.retries / nullif(t.faults, 0), 1) AS retries_pct
FROM runs r JOIN run_totals t ON t.run = r.id;

-- Shadow memory over time: one row per interval, with the peak so far.
CREATE VIEW shadow_memory AS
SELECT run, first_seq, last_seq, events, pool_used AS shadow_pages, pool_used * 4 AS shadow_kib,
	max(pool_used) OVER (PARTITION BY run ORDER BY first_seq) AS peak_so_far,
	evictions, unshadows, oos, resyncs
FROM timeline;

-- Policies side by side, in groups (grp): every run of a trace (by
-- checksum) that was replayed more than once ('trace CHECKSUM'), and the
-- recorded-policy runs of a guest (by the header's guest string) recorded
-- under more than one policy ('guest GUEST': the A/B between recordings).
-- basis says what each row's numbers are (docs/replay.md, What-ifs):
-- 'recorded' (a trace under its own policy), 'exact' (a what-if proven
-- equal to recording under that policy), 'approximate' (a what-if that is
-- not; also every what-if run of a database older than version 4), or
-- 'recording' (a row of a guest group: a measurement).
CREATE VIEW policy_compare AS
SELECT 'trace ' || r.trace_checksum AS grp, r.trace_checksum AS checksum, r.trace, r.id AS run,
	r.policy, r.audit, r.status,
	t.exits, t.faults, t.emulated, t.peak_shadow_pages, t.evictions, t.resyncs,
	r.violations,
	CASE WHEN r.recorded_policy = 1 THEN 'recorded' ELSE coalesce(r.whatif, 'approximate') END
		AS basis
FROM runs r LEFT JOIN run_totals t ON t.run = r.id
WHERE r.trace_checksum IN (SELECT trace_checksum FROM runs WHERE trace_checksum IS NOT NULL
			   GROUP BY trace_checksum HAVING count(*) > 1)
UNION ALL
SELECT 'guest ' || r.guest, r.trace_checksum, r.trace, r.id, r.policy, r.audit, r.status,
	t.exits, t.faults, t.emulated, t.peak_shadow_pages, t.evictions, t.resyncs,
	r.violations, 'recording'
FROM runs r LEFT JOIN run_totals t ON t.run = r.id
WHERE r.recorded_policy = 1 AND r.guest IN (SELECT guest FROM runs WHERE recorded_policy = 1 AND
	coalesce(guest, '') <> '' GROUP BY guest HAVING count(DISTINCT policy) > 1);
