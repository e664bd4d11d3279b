// Shapes of what the Rust commands return (serde of core's structs). Kept by hand, next to
// `src-tauri/src/commands/*.rs`; field names are core's.

export interface Tag {
  env: string;
  created_at: string;
  tool_version: string;
  sample_data: boolean;
  last_action: string | null;
  last_action_at: string | null;
}
export type Identity = { state: "empty" } | { state: "untagged" } | ({ state: "tagged" } & Tag);

export interface BackupRecord {
  path: string;
  env: string;
  source_path: string;
  created_at: string;
  tool_version: string;
  schema_version: number | null;
  reason: string;
  label: string | null;
  size_bytes: number;
  sha256: string;
  row_counts: Record<string, number>;
}

export interface EnvStatus {
  env: string;
  path: string;
  protected: boolean;
  exists: boolean;
  size_bytes: number;
  health: string;
  error: string | null;
  identity: Identity | null;
  schema_version: number | null;
  pending_migrations: number[];
  divergent_migrations: number[];
  row_counts: Record<string, number>;
  sample_data: boolean | null;
  last_backup: BackupRecord | null;
  last_action: string | null;
  last_action_at: string | null;
}

export interface EnvTarget {
  name: string;
  path: string;
  protected: boolean;
  backup_dir: string;
}

export interface WorkspaceInfo {
  data_dir: string;
  config_path: string | null;
  /** Where Settings write (the loaded config, else <data_dir>/pipeline-db.toml). */
  config_file: string;
  busy_timeout_ms: number;
  envs: EnvTarget[];
  retention: { keep: number; max_total_mib: number };
  unavailable: string[];
}

export interface TableRows {
  name: string;
  rows: number;
}
export interface MigrationInfo {
  version: number;
  name: string;
  state: "applied" | "pending" | "divergent" | "missing";
  checksum: string | null;
  applied_checksum: string | null;
  applied_on: string | null;
}
export interface BackupStep {
  required: boolean;
  reason: string;
  dir: string;
  path: string;
  why: string;
}

/** The union of the plan structs' fields the modal renders (reset, migrate, seed, backup). */
export interface AnyPlan {
  verb: string;
  env: string;
  path: string;
  exists?: boolean;
  tables?: TableRows[];
  total_rows?: number;
  backup?: BackupStep | null;
  backup_dir?: string;
  migrations?: MigrationInfo[];
  pending?: MigrationInfo[];
  row_counts?: Record<string, number>;
  notes?: string[];
  export?: boolean;
  /** seed: how much sample data. */
  options?: { users: number; pipelines: number; jobs: number };
  /** restore / undo: where the data comes from. */
  source?: { path: string; total_rows: number; tables: TableRows[] };
}

export interface Issued {
  token: string;
  expires_in_ms: number;
  plan_hash: string;
}

export interface Planned<P = AnyPlan> {
  plan: P;
  summary: string;
  protected: boolean;
  /** Core's rule for this plan: nothing, y/N, or the typed env name (then a native dialog). */
  confirmation: "none" | "yes_no" | "type_env_name";
  issued: Issued;
}

export interface CmdError {
  kind: string;
  message: string;
  exit_code: number;
}

export interface ProgressEvent {
  op: string;
  stage: string;
  /** "rows" or "bytes". */
  unit: string;
  done: number;
  total: number;
  elapsed_ms: number;
  eta_ms: number | null;
}

export interface JobFilter {
  status?: string | null;
  pipeline_id?: number | null;
  user_id?: number | null;
  from?: string | null;
  to?: string | null;
}
export type Order = "newest_first" | "oldest_first";
export interface JobCursor {
  created_at: string;
  id: number;
}
export interface Page<T, C> {
  rows: T[];
  next: C | null;
}
export interface JobRow {
  id: number;
  run_name: string;
  status: string;
  pipeline_id: number;
  pipeline: string;
  user_id: number;
  username: string;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}
export interface JobDetail {
  row: JobRow;
  session_id: string;
  params_pretty: string;
  output_dir: string | null;
  error_message: string | null;
}
export interface UserRow {
  id: number;
  username: string;
  email: string;
  role: string;
  is_active: boolean;
  created_at: string;
}
export interface PipelineRow {
  id: number;
  name: string;
  description: string | null;
  repository_url: string | null;
  revision: string | null;
  created_at: string;
}
export interface Charts {
  since: string;
  status_counts: { key: string; n: number }[];
  per_day: { day: string; status: string; n: number }[];
  per_pipeline: { pipeline: string; completed: number; failed: number; total: number }[];
  backups: { created_at: string; size_bytes: number; reason: string }[];
}
export interface AuditEntry {
  time: string;
  user: string;
  pid: number;
  env: string;
  file: string;
  verb: string;
  summary: string;
  backup: string | null;
  outcome: string;
  error: string | null;
  duration_ms: number;
}
export interface MigrationsView {
  migrations: MigrationInfo[];
  drift: { compared_with_version: number; differences: { change: string; object_type: string; name: string }[] } | null;
}

export interface CheckReport {
  env: string;
  path: string;
  exists: boolean;
  corrupt: boolean;
  findings: { check: string; ok: boolean; detail: string }[];
  evidence: string[];
  last_verified_backup: string | null;
  advice: string[];
}

/** Core's `settings::SettingsOutcome`: what was checked and written by a Settings change. */
export interface SettingsOutcome {
  plan: {
    verb: string;
    config_path: string;
    creates_config: boolean;
    env: string | null;
    file: { path: string; exists: boolean; needs_tag: boolean; identity: { state: string; env?: string } | null } | null;
    checks: string[];
    changes: string[];
    notes: string[];
  };
  written: boolean;
}
