-- A version 1 local workspace as champion 0.1.0 (schema 1, commit ce3e271 on main) wrote it:
-- one run in experiment iris-pipeline that logged accuracy, uploaded outputs/model.pkl
-- (16 bytes, b'pickled v1 model') and registered it as iris:1. Dumped with sqlite3 iterdump;
-- tests/local/test_schema_upgrade.py restores it and opens it with this code.
BEGIN TRANSACTION;
CREATE TABLE artifacts (
    origin TEXT NOT NULL, container TEXT NOT NULL, path TEXT NOT NULL,
    digest TEXT, size INTEGER NOT NULL DEFAULT 0, created_utc TEXT NOT NULL,
    PRIMARY KEY (origin, container, path)
);
INSERT INTO "artifacts" VALUES('ExperimentRun','dcid.iris-pipeline_f8e73bf0_1795972194','outputs/model.pkl','a10e0f79e103cc88229a2da76187a3b870bf9c27342160eb4b6f9abdad4c1b96',16,'2026-11-29T17:09:54.495062+00:00');
CREATE TABLE assets (
    id TEXT PRIMARY KEY, name TEXT, prefixes TEXT NOT NULL, run_id TEXT, created_utc TEXT NOT NULL
);
INSERT INTO "assets" VALUES('384626db03a5476b975b01ed9d913489','iris','["ExperimentRun/dcid.iris-pipeline_f8e73bf0_1795972194/outputs/model.pkl"]','iris-pipeline_f8e73bf0_1795972194','2026-11-29T17:09:54.496693+00:00');
CREATE TABLE experiments (
    name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, created_utc TEXT NOT NULL,
    run_counter INTEGER NOT NULL DEFAULT 0
);
INSERT INTO "experiments" VALUES('iris-pipeline','8d867299-e5d2-4e6f-8f00-3faf13107eb3','2026-11-29T17:09:54.477032+00:00',1);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('schema_version','1');
INSERT INTO "meta" VALUES('workspace_id','4a806375-5816-4272-b21d-a84f73991bd6');
INSERT INTO "meta" VALUES('created_utc','2026-11-29T17:09:54.433306+00:00');
CREATE TABLE metrics (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, step INTEGER,
    logged_utc TEXT NOT NULL
);
INSERT INTO "metrics" VALUES(1,'iris-pipeline_f8e73bf0_1795972194','accuracy','0.95',NULL,'2026-11-29T17:09:54.495521+00:00');
CREATE TABLE model_kv (
    model_seq INTEGER NOT NULL REFERENCES models(seq),
    kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT
);
INSERT INTO "model_kv" VALUES(1,'t','stage','v1');
INSERT INTO "model_kv" VALUES(1,'p','accuracy','0.95');
CREATE TABLE models (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL, version INTEGER NOT NULL,
    asset_id TEXT NOT NULL, description TEXT,
    framework TEXT NOT NULL, framework_version TEXT,
    tags TEXT NOT NULL DEFAULT '{}', properties TEXT NOT NULL DEFAULT '{}',
    run_id TEXT, experiment_name TEXT, mime_type TEXT NOT NULL,
    created_utc TEXT NOT NULL, modified_utc TEXT, deleted INTEGER NOT NULL DEFAULT 0,
    UNIQUE (name, version)
);
INSERT INTO "models" VALUES(1,'iris',1,'384626db03a5476b975b01ed9d913489',NULL,'Custom',NULL,'{"stage": "v1"}','{"accuracy": "0.95"}','iris-pipeline_f8e73bf0_1795972194','iris-pipeline','application/json','2026-11-29T17:09:54.498189+00:00',NULL,0);
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    experiment TEXT NOT NULL REFERENCES experiments(name),
    run_number INTEGER NOT NULL,
    parent_id TEXT, root_id TEXT NOT NULL,
    name TEXT, display_name TEXT, run_type TEXT,
    status TEXT NOT NULL,
    created_utc TEXT NOT NULL, start_utc TEXT, end_utc TEXT,
    tags TEXT NOT NULL DEFAULT '{}', properties TEXT NOT NULL DEFAULT '{}',
    data_container_id TEXT NOT NULL, error TEXT
);
INSERT INTO "runs" VALUES(1,'iris-pipeline_f8e73bf0_1795972194','iris-pipeline',1,NULL,'iris-pipeline_f8e73bf0_1795972194',NULL,NULL,NULL,'Completed','2026-11-29T17:09:54.488763+00:00','2026-11-29T17:09:54.488763+00:00','2026-11-29T17:09:54.499672+00:00','{"accuracy": "0.95"}','{}','dcid.iris-pipeline_f8e73bf0_1795972194',NULL);
CREATE INDEX runs_parent ON runs(parent_id, seq);
CREATE INDEX runs_root ON runs(root_id, seq);
CREATE INDEX metrics_run ON metrics(run_id, name, seq);
CREATE INDEX models_name ON models(name, deleted, seq);
CREATE INDEX models_run ON models(run_id, name, deleted, seq);
CREATE INDEX model_kv_lookup ON model_kv(kind, key, value, model_seq);
CREATE INDEX model_kv_model ON model_kv(model_seq);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('runs',1);
INSERT INTO "sqlite_sequence" VALUES('metrics',1);
INSERT INTO "sqlite_sequence" VALUES('models',1);
COMMIT;
