-- A version 2 local workspace as champion wrote it before deployments (schema 2, commit 7125d2e):
-- one run in experiment iris-pipeline that logged accuracy, uploaded outputs/model.pkl (16 bytes,
-- b'pickled v2 model'), registered the tabular dataset 'data' (datastores/workspaceblobstore/data.csv,
-- b'a,b\n1,2\n') and registered iris:1 with it as sample input. Dumped with sqlite3 iterdump;
-- tests/local/test_schema_upgrade.py restores it and opens it with this code.
BEGIN TRANSACTION;
CREATE TABLE artifacts (
    origin TEXT NOT NULL, container TEXT NOT NULL, path TEXT NOT NULL,
    digest TEXT, size INTEGER NOT NULL DEFAULT 0, created_utc TEXT NOT NULL,
    PRIMARY KEY (origin, container, path)
);
INSERT INTO "artifacts" VALUES('ExperimentRun','dcid.iris-pipeline_c5e813f2_1795978646','outputs/model.pkl','4d0006c28843072efcd614e4f1d3dd12bf0ff08024021e63c3223c054c06660a',16,'2026-11-29T18:57:26.846919+00:00');
CREATE TABLE assets (
    id TEXT PRIMARY KEY, name TEXT, prefixes TEXT NOT NULL, run_id TEXT, created_utc TEXT NOT NULL
);
INSERT INTO "assets" VALUES('1be8d6cdadce4beda835d9da2abeb8b8','iris','["ExperimentRun/dcid.iris-pipeline_c5e813f2_1795978646/outputs/model.pkl"]','iris-pipeline_c5e813f2_1795978646','2026-11-29T18:57:27.728672+00:00');
CREATE TABLE datasets (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    registered_id TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
    saved_id TEXT NOT NULL REFERENCES saved_datasets(id),
    description TEXT, tags TEXT NOT NULL DEFAULT '{}', digest TEXT NOT NULL,
    created_utc TEXT NOT NULL, unregistered INTEGER NOT NULL DEFAULT 0,
    UNIQUE (name, version)
);
INSERT INTO "datasets" VALUES(1,'147a3b6c-d29f-48b8-a87d-6a6fbe3d82f5','data',1,'dcfa9b9d-f536-4d3f-9644-e4c60662a8b6',NULL,'{}','bae551b43c394d55e30d3e841433613064df2d03e77777b7b369e538c3cd7825','2026-11-29T18:57:27.728115+00:00',0);
CREATE TABLE datastores (
    name TEXT PRIMARY KEY, type TEXT NOT NULL, container TEXT NOT NULL, account TEXT NOT NULL,
    protocol TEXT, endpoint TEXT, credential_type TEXT NOT NULL DEFAULT 'None',
    is_default INTEGER NOT NULL DEFAULT 0, created_utc TEXT NOT NULL
);
INSERT INTO "datastores" VALUES('workspaceblobstore','AzureBlob','azureml-blobstore-82d79ab7b24e4c9597e7ddfb','championlocal','https','core.windows.net','AccountKey',1,'2026-11-29T18:57:26.789665+00:00');
INSERT INTO "datastores" VALUES('workspacefilestore','AzureFile','azureml-filestore-82d79ab7b24e4c9597e7ddfb','championlocal','https','core.windows.net','AccountKey',0,'2026-11-29T18:57:26.789665+00:00');
CREATE TABLE experiments (
    name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, created_utc TEXT NOT NULL,
    run_counter INTEGER NOT NULL DEFAULT 0
);
INSERT INTO "experiments" VALUES('iris-pipeline','ac1ca37b-48cf-4280-9424-7f52298e5fc6','2026-11-29T18:57:26.829251+00:00',1);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('schema_version','2');
INSERT INTO "meta" VALUES('workspace_id','82d79ab7-b24e-4c95-97e7-ddfb26078314');
INSERT INTO "meta" VALUES('created_utc','2026-11-29T18:57:26.789665+00:00');
CREATE TABLE metrics (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, step INTEGER,
    logged_utc TEXT NOT NULL
);
INSERT INTO "metrics" VALUES(1,'iris-pipeline_c5e813f2_1795978646','accuracy','0.96',NULL,'2026-11-29T18:57:26.842112+00:00');
CREATE TABLE model_datasets (
    model_seq INTEGER NOT NULL REFERENCES models(seq), scenario TEXT NOT NULL,
    dataset_id TEXT NOT NULL
);
CREATE TABLE model_kv (
    model_seq INTEGER NOT NULL REFERENCES models(seq),
    kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT
);
INSERT INTO "model_kv" VALUES(1,'t','stage','v2');
INSERT INTO "model_kv" VALUES(1,'p','accuracy','0.96');
CREATE TABLE models (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL, version INTEGER NOT NULL,
    asset_id TEXT NOT NULL, description TEXT,
    framework TEXT NOT NULL, framework_version TEXT,
    tags TEXT NOT NULL DEFAULT '{}', properties TEXT NOT NULL DEFAULT '{}',
    run_id TEXT, experiment_name TEXT, mime_type TEXT NOT NULL,
    created_utc TEXT NOT NULL, modified_utc TEXT, deleted INTEGER NOT NULL DEFAULT 0, resource_configuration TEXT, datasets TEXT NOT NULL DEFAULT '[]', sample_input_dataset TEXT, sample_output_dataset TEXT,
    UNIQUE (name, version)
);
INSERT INTO "models" VALUES(1,'iris',1,'1be8d6cdadce4beda835d9da2abeb8b8',NULL,'Custom',NULL,'{"stage": "v2"}','{"accuracy": "0.96"}','iris-pipeline_c5e813f2_1795978646','iris-pipeline','application/json','2026-11-29T18:57:27.728875+00:00',NULL,0,NULL,'[]','dcfa9b9d-f536-4d3f-9644-e4c60662a8b6',NULL);
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
INSERT INTO "runs" VALUES(1,'iris-pipeline_c5e813f2_1795978646','iris-pipeline',1,NULL,'iris-pipeline_c5e813f2_1795978646',NULL,NULL,NULL,'Completed','2026-11-29T18:57:26.836677+00:00','2026-11-29T18:57:26.836677+00:00','2026-11-29T18:57:27.729666+00:00','{}','{}','dcid.iris-pipeline_c5e813f2_1795978646',NULL);
CREATE TABLE saved_datasets (
    id TEXT PRIMARY KEY, dataset_type TEXT NOT NULL, definition TEXT NOT NULL, dataflow TEXT,
    properties TEXT NOT NULL DEFAULT '{}', digest TEXT NOT NULL, created_utc TEXT NOT NULL
);
INSERT INTO "saved_datasets" VALUES('dcfa9b9d-f536-4d3f-9644-e4c60662a8b6','Tabular','{"type": "Tabular", "paths": [{"datastore": "workspaceblobstore", "path": "data.csv"}], "read": {"separator": ",", "header": true, "encoding": "utf8", "include_path": false, "infer_column_types": true, "empty_as_string": false}}',NULL,'{"champion.content_sha256": "bae551b43c394d55e30d3e841433613064df2d03e77777b7b369e538c3cd7825"}','bae551b43c394d55e30d3e841433613064df2d03e77777b7b369e538c3cd7825','2026-11-29T18:57:27.727225+00:00');
CREATE INDEX runs_parent ON runs(parent_id, seq);
CREATE INDEX runs_root ON runs(root_id, seq);
CREATE INDEX metrics_run ON metrics(run_id, name, seq);
CREATE INDEX models_name ON models(name, deleted, seq);
CREATE INDEX models_run ON models(run_id, name, deleted, seq);
CREATE INDEX model_kv_lookup ON model_kv(kind, key, value, model_seq);
CREATE INDEX model_kv_model ON model_kv(model_seq);
CREATE INDEX datasets_saved ON datasets(saved_id);
CREATE INDEX model_datasets_id ON model_datasets(dataset_id, model_seq);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('runs',1);
INSERT INTO "sqlite_sequence" VALUES('metrics',1);
INSERT INTO "sqlite_sequence" VALUES('datasets',1);
INSERT INTO "sqlite_sequence" VALUES('models',1);
COMMIT;
