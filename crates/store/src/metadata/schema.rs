//! The metadata schema and its migrations, keyed by `PRAGMA user_version`.

use rusqlite::Connection;

use crate::StoreError;

const VERSION: i64 = 5;

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS blobs (
    digest     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    layer      TEXT              -- set when the blob is not a file but is regenerated
                                 -- from this layer's directory and its tar-split
);
CREATE TABLE IF NOT EXISTS layers (
    chain_id   TEXT PRIMARY KEY,
    diff_id    TEXT NOT NULL,
    parent     TEXT,
    size       INTEGER NOT NULL, -- Docker's size of the extracted directory
    tar_size   INTEGER NOT NULL, -- length of the uncompressed layer tar
    unsynced_boot TEXT           -- boot ID while the files may still be only in the
                                 -- page cache; NULL once flushed (see Metadata::layer)
);
CREATE TABLE IF NOT EXISTS images (
    id            TEXT PRIMARY KEY, -- config digest
    created       TEXT,             -- RFC 3339, from the config
    created_unix  INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    parent        TEXT NOT NULL DEFAULT '',
    labels        TEXT NOT NULL DEFAULT '{}',
    manifest      TEXT,             -- digest of the stored manifest, if any
    stored_unix   INTEGER NOT NULL,
    last_tag_time TEXT
);
CREATE TABLE IF NOT EXISTS image_layers (
    image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    chain_id  TEXT NOT NULL REFERENCES layers(chain_id),
    blob      TEXT NOT NULL REFERENCES blobs(digest),
    PRIMARY KEY (image_id, position)
);
CREATE INDEX IF NOT EXISTS image_layers_by_chain ON image_layers(chain_id);
CREATE INDEX IF NOT EXISTS image_layers_by_blob ON image_layers(blob);
CREATE TABLE IF NOT EXISTS tags (
    name     TEXT PRIMARY KEY,    -- docker.io/library/nginx:latest
    repo     TEXT NOT NULL,       -- docker.io/library/nginx
    tag      TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id)
);
CREATE INDEX IF NOT EXISTS tags_by_image ON tags(image_id);
CREATE TABLE IF NOT EXISTS repo_digests (
    repo     TEXT NOT NULL,
    digest   TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    PRIMARY KEY (repo, digest)
);
";

/// Version 2: containers and named volumes.
const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS containers (
    id             TEXT PRIMARY KEY,  -- 64 hex digits
    name           TEXT NOT NULL UNIQUE,
    image_id       TEXT NOT NULL,     -- kept from deletion while a container uses it
    created        TEXT NOT NULL,     -- RFC 3339 with nanoseconds
    config         TEXT NOT NULL,     -- the engine's JSON description
    status         TEXT NOT NULL,
    pid            INTEGER NOT NULL DEFAULT 0,
    exit_code      INTEGER NOT NULL DEFAULT 0,
    started_at     TEXT NOT NULL DEFAULT '',
    finished_at    TEXT NOT NULL DEFAULT '',
    restart_count  INTEGER NOT NULL DEFAULT 0,
    oom_killed     INTEGER NOT NULL DEFAULT 0,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    error          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS containers_by_image ON containers(image_id);
CREATE TABLE IF NOT EXISTS volumes (
    name      TEXT PRIMARY KEY,
    created   TEXT NOT NULL,
    labels    TEXT NOT NULL DEFAULT '{}',
    anonymous INTEGER NOT NULL DEFAULT 0
);
";

/// Version 3: the event log `events` reads, written by every kujira process that
/// changes something (the CLI's commands, monitors, the API server).
const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    time_nano  INTEGER NOT NULL,
    type       TEXT NOT NULL,   -- container, image, volume, network
    action     TEXT NOT NULL,   -- create, start, die, destroy, pull, tag, ...
    actor      TEXT NOT NULL,   -- the object's ID (or name, for images and volumes)
    attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_by_actor ON events(actor, action);
";

/// Version 4: the build cache. A record is one Dockerfile step's result, keyed by
/// the content it depended on; its layer (NULL when the step changed no file) is
/// kept from the sweep as an image's would be.
const SCHEMA_V4: &str = "
CREATE TABLE IF NOT EXISTS build_cache (
    key            TEXT PRIMARY KEY, -- sha256 of the parent's key, the step, its inputs
    parent         TEXT,
    chain_id       TEXT REFERENCES layers(chain_id),
    blob           TEXT REFERENCES blobs(digest),
    kind           TEXT NOT NULL,    -- regular, source.local, exec.cachemount
    description    TEXT NOT NULL,
    size           INTEGER NOT NULL,
    created        TEXT NOT NULL,    -- the step's history time (RFC 3339)
    created_unix   INTEGER NOT NULL,
    last_used_unix INTEGER NOT NULL,
    usage_count    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS build_cache_by_chain ON build_cache(chain_id);
";

/// Version 5: networks and their endpoints. A network row is its create-time
/// configuration (JSON owned by the engine); an endpoint row is a running
/// container's lease on one network, its address unique there, so concurrent starts
/// cannot share one; it goes when the container stops (or a sweep finds its monitor
/// dead).
const SCHEMA_V5: &str = "
CREATE TABLE IF NOT EXISTS networks (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    config  TEXT NOT NULL,
    last_ip TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS endpoints (
    network_id   TEXT NOT NULL REFERENCES networks(id),
    container_id TEXT NOT NULL,
    ip           TEXT NOT NULL,
    config       TEXT NOT NULL,  -- the engine's JSON: aliases, MAC, veth, ports
    PRIMARY KEY (network_id, container_id),
    UNIQUE (network_id, ip)
);
CREATE INDEX IF NOT EXISTS endpoints_by_container ON endpoints(container_id);
";

pub fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == VERSION {
        return Ok(());
    }
    // WAL lets readers (`images`, `inspect`) run while a load commits.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE; {SCHEMA_V1} {SCHEMA_V2} {SCHEMA_V3} {SCHEMA_V4} {SCHEMA_V5} PRAGMA user_version = {VERSION}; COMMIT;"
    ))?;
    Ok(())
}
