/**
 * The PostgreSQL backend's schema, as numbered migrations: each is applied once, in order, in one
 * transaction that also records its number, so a schema is always at exactly one version. A
 * workspace's state lives in its own PostgreSQL schema (config.json `state.schema`), so several
 * workspaces share a database without meeting. `dreamos db migrate` applies what is missing; opening
 * refuses a schema older or newer than this code knows (docs/decisions/postgres-backend.md).
 */

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Documents are stored as `json`, not `jsonb`: the text is kept as written, so a task read back is
 * the task that was recorded, key for key, and a journal entry keeps the crc it was sealed with.
 */
/**
 * `record_line`'s writing of an entry's objects (the entry parsed into `e`) into their tables, the
 * same since version 4: each version that redefines the function repeats it in its own SQL.
 */
const RECORD_OBJECTS = `  IF e.tasks IS NOT NULL THEN
    INSERT INTO tasks (id, status, rev, doc)
    SELECT p.task->>'id', p.task->>'status', e.seq, p.task FROM json_to_recordset(e.tasks) AS p(task json)
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, rev = excluded.rev, doc = excluded.doc;
  END IF;

  IF e.archived IS NOT NULL THEN
    WITH moved AS (
      DELETE FROM tasks WHERE id IN (SELECT json_array_elements_text(e.archived))
      RETURNING id, doc
    )
    INSERT INTO archive (id, archived_seq, doc) SELECT id, e.seq, doc FROM moved
    ON CONFLICT (id) DO UPDATE SET archived_seq = excluded.archived_seq, doc = excluded.doc;
  END IF;

  IF e.alerts IS NOT NULL THEN
    INSERT INTO alerts (id, rev, doc)
    SELECT a->>'id', e.seq, a FROM json_array_elements(e.alerts) AS a
    ON CONFLICT (id) DO UPDATE SET rev = excluded.rev, doc = excluded.doc;
  END IF;

  IF e.agents IS NOT NULL THEN
    INSERT INTO agents (id, rev, doc)
    SELECT a->>'id', e.seq, a FROM json_array_elements(e.agents) AS a
    ON CONFLICT (id) DO UPDATE SET rev = excluded.rev, doc = excluded.doc;
  END IF;

  IF e.mail IS NOT NULL THEN
    INSERT INTO mail (id, mailbox, acked, rev, doc)
    SELECT m->>'id', m->>'to', m->>'ackedAt' IS NOT NULL, e.seq, m FROM json_array_elements(e.mail) AS m
    ON CONFLICT (id) DO UPDATE SET mailbox = excluded.mailbox, acked = excluded.acked, rev = excluded.rev, doc = excluded.doc;
    DELETE FROM mail d USING (
      SELECT id, row_number() OVER (PARTITION BY mailbox ORDER BY id DESC) AS n
      FROM mail
      WHERE acked AND mailbox IN (SELECT DISTINCT m->>'to' FROM json_array_elements(e.mail) AS m)
    ) old
    WHERE d.id = old.id AND old.n > keep_acked;
  END IF;

  IF e.checkpoints IS NOT NULL THEN
    INSERT INTO checkpoints (id, agent, rev, doc)
    SELECT c->>'id', c->>'agent', e.seq, c FROM json_array_elements(e.checkpoints) AS c
    ON CONFLICT (id) DO UPDATE SET agent = excluded.agent, rev = excluded.rev, doc = excluded.doc;
    DELETE FROM checkpoints d USING (
      SELECT id, row_number() OVER (PARTITION BY agent ORDER BY id DESC) AS n
      FROM checkpoints
      WHERE agent IN (SELECT DISTINCT c->>'agent' FROM json_array_elements(e.checkpoints) AS c)
    ) old
    WHERE d.id = old.id AND old.n > keep_checkpoints;
  END IF;

  IF e.config IS NOT NULL THEN
    UPDATE settings SET config = e.config WHERE id = 1;
  END IF;
`;

/**
 * `record_if_latest`'s body up to the record, the same since version 4: the write lock, then 'lost'
 * (the entry planned on is gone), 'behind' (entries came after it: they go back as one text, lines
 * joined by U+001E) or 'clock' (the plan's clock is off), else the record that follows.
 */
const IF_LATEST = `LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  last_crc text;
  last_at timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(lock_class, hashtext(current_schema()));
  db_now := clock_timestamp();
  SELECT entry->>'crc', at INTO last_crc, last_at FROM journal WHERE seq = after;
  IF last_crc IS DISTINCT FROM head THEN
    status := 'lost';
  ELSIF EXISTS (SELECT 1 FROM journal WHERE seq = after + 1) THEN
    status := 'behind';
    missed := (SELECT string_agg(entry::text, E'\\x1e' ORDER BY seq)
      FROM (SELECT seq, entry FROM journal WHERE seq > after ORDER BY seq LIMIT cap) page);
  ELSIF planned > db_now OR db_now - planned > slack_ms * interval '1 millisecond' OR planned < last_at THEN
    status := 'clock';
  ELSE
`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'tables of the board, the journal and the leader',
    sql: `
CREATE TABLE journal (
  seq bigint PRIMARY KEY,
  at timestamptz NOT NULL,
  op text NOT NULL,
  by text NOT NULL,
  has_tasks boolean NOT NULL,
  -- The transaction that wrote it: after a lost connection, whether a commit happened is asked by it.
  txn text NOT NULL,
  entry json NOT NULL
);
CREATE TABLE tasks (
  id text PRIMARY KEY,
  status text NOT NULL,
  rev bigint NOT NULL,
  doc json NOT NULL
);
CREATE INDEX tasks_by_status ON tasks (status);
CREATE TABLE archive (
  id text PRIMARY KEY,
  archived_seq bigint NOT NULL,
  doc json NOT NULL
);
CREATE INDEX archive_by_seq ON archive (archived_seq);
CREATE TABLE alerts (id text PRIMARY KEY, rev bigint NOT NULL, doc json NOT NULL);
CREATE TABLE agents (id text PRIMARY KEY, rev bigint NOT NULL, doc json NOT NULL);
CREATE TABLE mail (
  id text PRIMARY KEY,
  mailbox text NOT NULL,
  acked boolean NOT NULL,
  rev bigint NOT NULL,
  doc json NOT NULL
);
CREATE INDEX mail_by_mailbox ON mail (mailbox, id);
CREATE TABLE checkpoints (
  id text PRIMARY KEY,
  agent text NOT NULL,
  rev bigint NOT NULL,
  doc json NOT NULL
);
CREATE INDEX checkpoints_by_agent ON checkpoints (agent, id);
-- The configuration last recorded (the journal has every copy; this one survives its retention).
CREATE TABLE settings (
  id int PRIMARY KEY CHECK (id = 1),
  config json,
  -- Entries before this one were removed by retention: the journal starts after it, without a gap.
  journal_floor bigint NOT NULL DEFAULT 0
);
INSERT INTO settings (id) VALUES (1);
-- Who runs the sweeps that one process does for all (lease expiry, drift over all agents), until when.
CREATE TABLE leaders (
  role text PRIMARY KEY,
  holder text NOT NULL,
  expires_at timestamptz NOT NULL
);

-- One change, as its journal entry: the entry appended and every object it carries written to its
-- table, in the caller's transaction. Retention matches the in-memory index (state/state-index.ts):
-- acknowledged mail past the newest KEEP_ACKED per mailbox, checkpoints past KEEP per agent.
CREATE FUNCTION record_entry(e json, line text, txn text, keep_acked int, keep_checkpoints int)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  s bigint := (e->>'seq')::bigint;
BEGIN
  INSERT INTO journal (seq, at, op, by, has_tasks, txn, entry)
  VALUES (s, (e->>'at')::timestamptz, e->>'op', e->>'by', e->'tasks' IS NOT NULL, txn, line::json);

  INSERT INTO tasks (id, status, rev, doc)
  SELECT p->'task'->>'id', p->'task'->>'status', s, p->'task'
  FROM json_array_elements(coalesce(e->'tasks', '[]'::json)) AS p
  ON CONFLICT (id) DO UPDATE SET status = excluded.status, rev = excluded.rev, doc = excluded.doc;

  WITH moved AS (
    DELETE FROM tasks WHERE id IN (SELECT json_array_elements_text(coalesce(e->'archived', '[]'::json)))
    RETURNING id, doc
  )
  INSERT INTO archive (id, archived_seq, doc) SELECT id, s, doc FROM moved
  ON CONFLICT (id) DO UPDATE SET archived_seq = excluded.archived_seq, doc = excluded.doc;

  INSERT INTO alerts (id, rev, doc)
  SELECT a->>'id', s, a FROM json_array_elements(coalesce(e->'alerts', '[]'::json)) AS a
  ON CONFLICT (id) DO UPDATE SET rev = excluded.rev, doc = excluded.doc;

  INSERT INTO agents (id, rev, doc)
  SELECT a->>'id', s, a FROM json_array_elements(coalesce(e->'agents', '[]'::json)) AS a
  ON CONFLICT (id) DO UPDATE SET rev = excluded.rev, doc = excluded.doc;

  IF e->'mail' IS NOT NULL THEN
    INSERT INTO mail (id, mailbox, acked, rev, doc)
    SELECT m->>'id', m->>'to', m->>'ackedAt' IS NOT NULL, s, m FROM json_array_elements(e->'mail') AS m
    ON CONFLICT (id) DO UPDATE SET mailbox = excluded.mailbox, acked = excluded.acked, rev = excluded.rev, doc = excluded.doc;
    DELETE FROM mail d USING (
      SELECT id, row_number() OVER (PARTITION BY mailbox ORDER BY id DESC) AS n
      FROM mail
      WHERE acked AND mailbox IN (SELECT DISTINCT m->>'to' FROM json_array_elements(e->'mail') AS m)
    ) old
    WHERE d.id = old.id AND old.n > keep_acked;
  END IF;

  IF e->'checkpoints' IS NOT NULL THEN
    INSERT INTO checkpoints (id, agent, rev, doc)
    SELECT c->>'id', c->>'agent', s, c FROM json_array_elements(e->'checkpoints') AS c
    ON CONFLICT (id) DO UPDATE SET agent = excluded.agent, rev = excluded.rev, doc = excluded.doc;
    DELETE FROM checkpoints d USING (
      SELECT id, row_number() OVER (PARTITION BY agent ORDER BY id DESC) AS n
      FROM checkpoints
      WHERE agent IN (SELECT DISTINCT c->>'agent' FROM json_array_elements(e->'checkpoints') AS c)
    ) old
    WHERE d.id = old.id AND old.n > keep_checkpoints;
  END IF;

  IF e->'config' IS NOT NULL THEN
    UPDATE settings SET config = e->'config' WHERE id = 1;
  END IF;
END $$;

-- The start of every change, in one round trip: the schema's write lock, then (in a snapshot taken
-- after the lock was had, as each statement of a volatile function has its own) the entries after
-- the caller's last one and the database's clock, which leases are judged by.
-- Also the crc of the entry numbered after, which the caller's state is as of: a server that
-- crashed may have lost a tail the caller had read, and then the caller reloads.
CREATE FUNCTION begin_write(lock_class int, after bigint, OUT now timestamptz, OUT head text, OUT lines text[])
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(lock_class, hashtext(current_schema()));
  SELECT clock_timestamp(), (SELECT entry->>'crc' FROM journal WHERE seq = after),
    ARRAY(SELECT entry::text FROM journal WHERE seq > after ORDER BY seq)
  INTO now, head, lines;
END $$;

CREATE FUNCTION record_entries(lines text[], txn text, keep_acked int, keep_checkpoints int)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOREACH line IN ARRAY lines LOOP
    PERFORM record_entry(line::json, line, txn, keep_acked, keep_checkpoints);
  END LOOP;
END $$;
`,
  },
  {
    version: 2,
    name: 'a change recorded in one round trip if planned on the latest entry',
    sql: `
-- A change planned outside the write lock, against the state as of entry number "after" (whose crc
-- is "head") with the clock "planned", recorded in one call: the write lock, then (each statement in
-- a snapshot of its own, taken after the lock was had) the checks, then the record. Nothing is
-- recorded unless every check holds; "status" says which did not:
--   lost    the entry at "after" is not the one planned on (a crash took back a tail the caller read)
--   behind  entries were recorded after "after": they come back (at most "cap"), to plan again on
--   clock   "planned" is ahead of the database's clock, which leases are judged by, more than
--           "slack_ms" behind it, or before the entry at "after" (the journal's times go forward)
-- "db_now" is the database's clock, for the caller's next plan.
CREATE FUNCTION record_if_latest(lock_class int, after bigint, head text, lines text[], txn text,
  keep_acked int, keep_checkpoints int, planned timestamptz, slack_ms int, cap int,
  OUT status text, OUT db_now timestamptz, OUT missed text[])
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(lock_class, hashtext(current_schema()));
  db_now := clock_timestamp();
  IF (SELECT entry->>'crc' FROM journal WHERE seq = after) IS DISTINCT FROM head THEN
    status := 'lost';
  ELSIF EXISTS (SELECT 1 FROM journal WHERE seq > after) THEN
    status := 'behind';
    missed := ARRAY(SELECT entry::text FROM journal WHERE seq > after ORDER BY seq LIMIT cap);
  ELSIF planned > db_now OR db_now - planned > slack_ms * interval '1 millisecond'
    OR planned < (SELECT at FROM journal WHERE seq = after) THEN
    status := 'clock';
  ELSE
    PERFORM record_entries(lines, txn, keep_acked, keep_checkpoints);
    status := 'ok';
  END IF;
END $$;
`,
  },
  {
    version: 3,
    name: 'dedupe keys of archived tasks kept after retention',
    sql: `
-- The dedupe keys of archived tasks that retention deleted: a key once used is never used again
-- (src/task-input.ts), also after its task is gone. Small rows, as the JSON store's keys files.
CREATE TABLE dedupe_keys (
  key text PRIMARY KEY,
  id text NOT NULL,
  archived_seq bigint NOT NULL
);
`,
  },
  {
    version: 4,
    name: 'entries parsed once when recorded, and the next entry looked up by its number',
    sql: `
-- One change, as its journal line: the entry appended and every object it carries written to its
-- table, in the caller's transaction (as version 1's record_entry, which each reference to a field
-- of its json argument parsed again: the line is now parsed once, into its parts). Retention matches
-- the in-memory index (state/state-index.ts): acknowledged mail past the newest KEEP_ACKED per
-- mailbox, checkpoints past KEEP per agent.
CREATE FUNCTION record_line(line text, txn text, keep_acked int, keep_checkpoints int)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  j json := line::json;
  e record;
BEGIN
  SELECT * INTO e FROM json_to_record(j) AS x(seq bigint, at timestamptz, op text, "by" text,
    tasks json, archived json, alerts json, agents json, mail json, checkpoints json, config json);

  INSERT INTO journal (seq, at, op, by, has_tasks, txn, entry)
  VALUES (e.seq, e.at, e.op, e."by", e.tasks IS NOT NULL, txn, j);

${RECORD_OBJECTS}END $$;

CREATE OR REPLACE FUNCTION record_entries(lines text[], txn text, keep_acked int, keep_checkpoints int)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOREACH line IN ARRAY lines LOOP
    PERFORM record_line(line, txn, keep_acked, keep_checkpoints);
  END LOOP;
END $$;

-- As version 2's, but for two things. The test of entries after "after": the journal has no gaps, so
-- there is one exactly when the entry numbered after + 1 is there, which the primary key finds
-- ("seq > after", as written before, was read with a scan of the whole journal whenever the planner's
-- statistics of the table were missing or old, as on a new board: a cost that grew with every entry).
-- And the entries missed come back as one text, their lines joined by U+001E (which no JSON text
-- holds unescaped), not as an array, which costs the client far more to parse.
DROP FUNCTION record_if_latest(int, bigint, text, text[], text, int, int, timestamptz, int, int);
CREATE FUNCTION record_if_latest(lock_class int, after bigint, head text, lines text[], txn text,
  keep_acked int, keep_checkpoints int, planned timestamptz, slack_ms int, cap int,
  OUT status text, OUT db_now timestamptz, OUT missed text)
${IF_LATEST}    PERFORM record_entries(lines, txn, keep_acked, keep_checkpoints);
    status := 'ok';
  END IF;
END $$;

-- No longer called: version 1's start of a change in one call, and its record_entry.
DROP FUNCTION IF EXISTS begin_write(int, bigint);
DROP FUNCTION IF EXISTS record_entry(json, text, text, int, int);
`,
  },
  {
    version: 5,
    name: 'hot changes recorded on top of later entries they do not conflict with',
    sql: `
-- What each entry's change wrote, as keys (state/pg/conflicts.ts): a change planned on an earlier
-- entry is recorded on top of the later ones only if none of them wrote what its plan read. NULL:
-- not known (a repair, an import), which counts as everything.
ALTER TABLE journal ADD COLUMN touched text[];

-- As version 4's, with the keys of what the change wrote, one text joined by U+001F.
DROP FUNCTION record_line(text, text, int, int);
CREATE FUNCTION record_line(line text, txn text, keep_acked int, keep_checkpoints int, touched text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  j json := line::json;
  e record;
BEGIN
  SELECT * INTO e FROM json_to_record(j) AS x(seq bigint, at timestamptz, op text, "by" text,
    tasks json, archived json, alerts json, agents json, mail json, checkpoints json, config json);

  INSERT INTO journal (seq, at, op, by, has_tasks, txn, touched, entry)
  VALUES (e.seq, e.at, e.op, e."by", e.tasks IS NOT NULL, txn, string_to_array(touched, E'\\x1f'), j);

${RECORD_OBJECTS}END $$;

DROP FUNCTION record_entries(text[], text, int, int);
CREATE FUNCTION record_entries(lines text[], txn text, keep_acked int, keep_checkpoints int,
  touched text[] DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. coalesce(array_length(lines, 1), 0) LOOP
    PERFORM record_line(lines[i], txn, keep_acked, keep_checkpoints, touched[i]);
  END LOOP;
END $$;

-- As version 4's, with the keys of what each line wrote.
DROP FUNCTION record_if_latest(int, bigint, text, text[], text, int, int, timestamptz, int, int);
CREATE FUNCTION record_if_latest(lock_class int, after bigint, head text, lines text[], touched text[],
  txn text, keep_acked int, keep_checkpoints int, planned timestamptz, slack_ms int, cap int,
  OUT status text, OUT db_now timestamptz, OUT missed text)
${IF_LATEST}    PERFORM record_entries(lines, txn, keep_acked, keep_checkpoints, touched);
    status := 'ok';
  END IF;
END $$;

-- One hot change planned on entry "after" (whose crc is "head"), recorded as the next entry, whatever
-- its number; a claim may come with alternatives (the claims of the next best tasks), of which the
-- first that can be is recorded. An entry's number is in its line and in its crc, which the server
-- does not compute: each alternative i (from 0) comes as its line without the crc, with "placeholder"
-- for its number ("templates", joined by U+001E), and its crcs as entry after + 1, after + 2, ...,
-- after + "candidates" (joined by ",", then by U+001E). "reads" and "touched" hold, per alternative
-- (joined by U+001E), the keys of what its plan read and of what it writes (joined by U+001F). With
-- the write lock, the checks (each in a snapshot taken after the lock was had), then the record:
--   lost    the entry at "after" is not the one planned on (a crash took back a tail the caller read)
--   behind  as many entries as there are candidates or more were recorded after "after", or each
--           alternative read what one of them wrote (one whose keys are not known counts as all)
--   clock   "planned" is ahead of the database's clock, more than "slack_ms" behind it, or before the
--           last entry's time (by more than "slack_ms" if that entry is not "after": a change planned
--           side by side with it may have been planned a moment before it)
--   ok      alternative "chosen" recorded as entry "seq"
-- Every answer but "lost" brings back the entries recorded after "after" (at most "cap"), which the
-- caller applies before its own.
CREATE FUNCTION record_at_head(lock_class int, after bigint, head text, placeholder text,
  templates text, crcs text, candidates int, reads text, touched text, txn text, keep_acked int, keep_checkpoints int, planned timestamptz,
  slack_ms int, cap int, OUT status text, OUT db_now timestamptz, OUT missed text, OUT seq bigint,
  OUT chosen int)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  last_crc text;
  top bigint;
  top_at timestamptz;
  slack interval := slack_ms * interval '1 millisecond';
  floor_slack interval := interval '0';
  read_keys text[];
BEGIN
  PERFORM pg_advisory_xact_lock(lock_class, hashtext(current_schema()));
  db_now := clock_timestamp();
  SELECT entry->>'crc' INTO last_crc FROM journal j WHERE j.seq = after;
  IF last_crc IS DISTINCT FROM head THEN
    status := 'lost';
    RETURN;
  END IF;
  SELECT j.seq, j.at INTO top, top_at FROM journal j ORDER BY j.seq DESC LIMIT 1;
  top := coalesce(top, 0);
  IF top > after THEN
    floor_slack := slack;
    missed := (SELECT string_agg(entry::text, E'\\x1e' ORDER BY page.seq)
      FROM (SELECT j.seq, j.entry FROM journal j WHERE j.seq > after ORDER BY j.seq LIMIT cap) page);
  END IF;
  IF top - after < candidates THEN
    FOR i IN 0 .. array_length(string_to_array(reads, E'\\x1e'), 1) - 1 LOOP
      read_keys := string_to_array(split_part(reads, E'\\x1e', i + 1), E'\\x1f');
      -- Bounded on both sides: a plan cached for any "after" must still read these few by the key.
      IF NOT EXISTS (SELECT 1 FROM journal j
          WHERE j.seq BETWEEN after + 1 AND top AND (j.touched IS NULL OR j.touched && read_keys)) THEN
        chosen := i;
        EXIT;
      END IF;
    END LOOP;
  END IF;
  IF chosen IS NULL THEN
    status := 'behind';
  ELSIF planned > db_now OR db_now - planned > slack OR planned < top_at - floor_slack THEN
    status := 'clock';
  ELSE
    seq := top + 1;
    PERFORM record_line(
      replace(split_part(templates, E'\\x1e', chosen + 1), placeholder, seq::text) || ',"crc":"'
        || split_part(split_part(crcs, E'\\x1e', chosen + 1), ',', (top - after)::int + 1) || '"}',
      txn, keep_acked, keep_checkpoints, split_part(touched, E'\\x1e', chosen + 1));
    status := 'ok';
  END IF;
END $$;
`,
  },
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The table that records which migrations a schema has had. */
export const VERSION_TABLE_SQL = `
CREATE TABLE IF NOT EXISTS schema_version (
  version int PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;
