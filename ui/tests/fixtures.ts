import type {
  Actions, AuditEntry, EnvStatus, ImportPlan, Issued, MigratePlan, Planned, PrunePlan, ResetPlan, RestorePlan,
  RestoreSource, TableRows, UndoPlan,
} from "../src/lib/types";

// Whole values of the generated types (what Rust sends), with the fields a test cares about
// given in `over`.

export const issued: Issued = { token: "t", expires_in_ms: 120_000, plan_hash: "h" };

export function resetPlan(over: Partial<ResetPlan> = {}): ResetPlan {
  return {
    verb: "reset", env: "dev", path: "/data/dev.sqlite3", file_id: "device 1, inode 2", protected: false, exists: true, size_bytes: 0,
    identity: null, tables: [], total_rows: 0, data_rows: 0, other_objects: [], backup: null, migrations: [], sample_data: null,
    space: [], confirmation: "yes_no", damaged: null, notes: [], ...over,
  };
}

export function migratePlan(over: Partial<MigratePlan> = {}): MigratePlan {
  return {
    verb: "migrate", env: "dev", path: "/data/dev.sqlite3", file_id: "device 1, inode 2", protected: false, exists: true, identity: null,
    current_version: null, target_version: 2, pending: [], total_rows: 0, backup: null, space: [],
    confirmation: "none", notes: [], ...over,
  };
}

export function restoreSource(over: Partial<RestoreSource> = {}): RestoreSource {
  const path = over.path ?? "/b/x.sqlite3";
  return {
    path, file_id: "device 1, inode 3", manifest: null, tables: [], total_rows: 0,
    verification: {
      path, ok: true, verified_at: "2026-11-26T13:00:00Z", has_manifest: false, sha256_matches: null,
      schema_version: 2, tagged_env: "dev", problem: null, checks: ["header", "schema V2 as the migrations make it"], inconclusive: false,
    },
    ...over,
  };
}

export function restorePlan(over: Partial<RestorePlan> = {}): RestorePlan {
  return {
    verb: "restore", env: "dev", path: "/data/dev.sqlite3", file_id: "device 1, inode 2", protected: false, exists: true, identity: null,
    tables: [], total_rows: 0, source: restoreSource(), backup: null, space: [], confirmation: "yes_no",
    migrate_after: false, current_damaged: null, notes: [], ...over,
  };
}

export function auditEntry(over: Partial<AuditEntry> = {}): AuditEntry {
  return {
    time: "2026-11-26T13:00:00Z", user: "me", pid: 1, env: "dev", file: "/data/dev.sqlite3", verb: "reset",
    summary: "", backup: null, outcome: "ok", error: null, duration_ms: 0, ...over,
  };
}

export function undoPlan(over: Partial<UndoPlan> = {}): UndoPlan {
  return {
    verb: "undo", env: "dev", action: auditEntry(), restore: restorePlan({ verb: "undo" }), changed_since: [],
    change_unknown: false, confirmation: "yes_no", ...over,
  };
}

export function prunePlan(over: Partial<PrunePlan> = {}): PrunePlan {
  return {
    verb: "backups prune", env: "dev", keep: 1, max_total_bytes: null, budget_bytes: null, unmet: null, delete: [], protected: [],
    total_bytes_before: 0, frees_bytes: 0, deleted: false, confirmation: "yes_no", ...over,
  };
}

export function planned(env: string, protectedEnv: boolean, verb: "reset" | "migrate" = "reset"): Planned {
  const tables: TableRows[] = [
    { name: "jobs", rows: 500, kind: "data" }, { name: "users", rows: 6, kind: "data" },
    { name: "pipeline_db_meta", rows: 1, kind: "bookkeeping" }, { name: "refinery_schema_history", rows: 2, kind: "bookkeeping" },
  ];
  const path = `/data/${env}.sqlite3`;
  return {
    plan: verb === "reset" ? resetPlan({ env, path, tables, total_rows: 509, data_rows: 506 }) : migratePlan({ env, path }),
    summary: "drop 2 tables, 506 rows",
    protected: protectedEnv,
    confirmation: protectedEnv ? "type_env_name" : "yes_no",
    issued,
  };
}

const yes = { available: true, reason: null };

export function actions(over: Partial<Actions> = {}): Actions {
  return {
    migrate: yes, seed: yes, reset: yes, reset_sample: yes, backup: yes, restore: yes, undo: yes, check: yes,
    prune: yes, ...over,
  };
}

export function envStatus(over: Partial<EnvStatus> = {}): EnvStatus {
  return {
    env: "dev", path: "/data/dev.sqlite3", protected: false, exists: true, size_bytes: 4096, health: "ok", error: null, backups_error: null,
    identity: null, schema_version: 2, pending_migrations: [], divergent_migrations: [], row_counts: {}, tables: [],
    sample_data: null, last_backup: null, last_action: null, last_action_at: null, actions: actions(), ...over,
  };
}

export function importPlan(over: Partial<ImportPlan> = {}): ImportPlan {
  return {
    verb: "import", env: "dev", path: "/data/dev.sqlite3", file_id: "device 1, inode 2", table: "users", file: "/in/users.csv", format: "csv",
    file_bytes: 80, file_sha256: "ab", columns: ["username", "email"], rows: 2, bad_rows: [], bad_row_count: 0, duplicates: [], duplicate_count: 0,
    missing_references: [], missing_reference_count: 0, duplicate_policy: "refuse the file", tables: [{ name: "users", rows: 6, kind: "data" }], importable: true,
    backup: { required: true, reason: "pre-import", dir: "/data/backups/dev", path: "/data/backups/dev/dev-x-pre-import.sqlite3", why: "an import adds rows", existing: false },
    confirmation: "yes_no",
    notes: [], ...over,
  };
}
