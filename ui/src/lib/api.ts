// The only place the window talks to Rust: one typed function per command.
import { invoke } from "@tauri-apps/api/core";
import { bytes } from "./format";
import type {
  About, Answer, AuditEntry, BackupPlan, BackupRecord, BackupsView, Charts, CheckReport, EnvStatus, ExportOutcome,
  ExportWhat, Format, ImportPlan, JobCursor, JobDetail, JobFilter, JobRow, MigratePlan, MigrationsView, Order, Outcome,
  Page, PathChoice, PinOutcome, PipelineRow, Planned, PrunePlan, PrunePreview, QueryView, ResetPlan, RestorePlan,
  SavedQuery, SchemaView, SeedPlan, SettingsOutcome, ShownPlan, UndoPlan, UserRow, VerifyReport, WorkspaceInfo,
} from "./types";

/** The actions that go through a plan + token (the buttons: reset with sample data and export
 * are a reset and a backup). */
export type Action =
  | "reset" | "reset_sample" | "migrate" | "seed" | "backup" | "export" | "restore" | "undo" | "prune" | "import";

/** The tables Import… writes (core refuses any other). */
export type ImportTable = "users" | "pipelines" | "jobs";

/** The prune preview as a plan: what is deleted, what it frees, what is kept and why. */
export function pruneAsPlan(p: Planned<PrunePlan>): Planned<PrunePreview> {
  const q = p.plan;
  const notes = [
    `frees ${bytes(q.frees_bytes)} of ${bytes(q.total_bytes_before)}; keeps the newest ${q.keep}`,
    ...q.delete.map((d) => `delete ${d.path} (${bytes(d.size_bytes)}, ${d.why})`),
    ...q.protected.map((d) => `keep ${d.path} (${d.why})`),
    ...(q.unmet ? [`policy not met: ${q.unmet}`] : []),
  ];
  if (q.delete.length === 0) notes.unshift("nothing to delete");
  return { ...p, plan: { verb: "prune", env: q.env, path: `backups of ${q.env}`, notes } };
}

/** The undo plan wraps a restore plan: show it as one (the token stays the undo's). */
export function undoAsPlan(p: Planned<UndoPlan>): Planned<RestorePlan> {
  const r = p.plan.restore;
  const notes = [
    `undoes ${p.plan.action.verb} of ${p.plan.action.time} (${p.plan.action.summary})`,
    ...p.plan.changed_since.map((c) => `changed since, and lost by the undo: ${c}`),
    ...(p.plan.change_unknown ? ["changes since that action cannot be ruled out"] : []),
    ...r.notes,
  ];
  return { ...p, plan: { ...r, verb: "undo", notes } };
}

export const api = {
  workspaceInfo: () => invoke<WorkspaceInfo>("workspace_info"),
  /** Version, git commit and SQLite version (what `pipeline-db --version` says). */
  about: () => invoke<About>("about"),
  status: () => invoke<EnvStatus[]>("status"),
  listBackups: (env: string) => invoke<BackupRecord[]>("list_backups", { env }),
  /** The Backups view: backups with pins, undo's target, the policy and disk use. */
  backupsView: (env: string) => invoke<BackupsView>("backups_view", { env }),
  /** Pins (never deleted by retention or prune) or unpins a listed backup. */
  pinBackup: (env: string, backup: string, pinned: boolean) =>
    invoke<PinOutcome>("pin_backup", { env, backup, pinned }),
  migrations: (env: string) => invoke<MigrationsView>("migrations", { env }),
  auditLog: (env: string | null) => invoke<AuditEntry[]>("audit_log", { env }),
  /** Cancels the operation started with confirmation token `id` (and only that one). */
  cancelOperation: (id: string) => invoke<void>("cancel_operation", { id }),

  /** `backup`: restore from this backup; null = pick a file in the native open dialog.
   * `table`: import's table (its file is picked in the native open dialog). */
  async plan(action: Action, env: string, backup: string | null = null, jobs: number | null = null,
    table: ImportTable | null = null): Promise<Planned> {
    switch (action) {
      case "import":
        return invoke<Planned<ImportPlan>>("plan_import", { env, table });
      case "restore":
        return invoke<Planned<RestorePlan>>("plan_restore", { env, backup });
      case "undo":
        return undoAsPlan(await invoke<Planned<UndoPlan>>("plan_undo", { env }));
      case "prune":
        return pruneAsPlan(await invoke<Planned<PrunePlan>>("plan_prune", { env }));
      case "reset":
      case "reset_sample":
        return invoke<Planned<ResetPlan>>("plan_reset", { env, sampleData: action === "reset_sample" });
      case "migrate":
        return invoke<Planned<MigratePlan>>("plan_migrate", { env });
      case "seed":
        return invoke<Planned<SeedPlan>>("plan_seed", { env, jobs });
      case "backup":
      case "export":
        return invoke<Planned<BackupPlan>>("plan_backup", { env, export: action === "export" });
    }
  },

  /** `plan`: the plan the modal showed (the restore's file, the seed's job count). */
  run(action: Action, env: string, answer: Answer, plan?: ShownPlan): Promise<Outcome> {
    switch (action) {
      case "import":
        return invoke("import_env", { env, answer });
      case "restore":
        return invoke("restore_env", { env, backup: plan?.verb === "restore" ? plan.source.path : undefined, answer });
      case "undo":
        return invoke("undo_env", { env, answer });
      case "prune":
        return invoke("prune_backups", { env, answer });
      case "reset":
      case "reset_sample":
        return invoke("reset_env", { env, sampleData: action === "reset_sample", answer });
      case "migrate":
        return invoke("migrate_env", { env, answer });
      case "seed":
        return invoke("seed_env", { env, jobs: plan?.verb === "seed" ? plan.options.jobs : null, answer });
      case "backup":
      case "export":
        return invoke("backup_env", { env, export: action === "export", label: null, answer });
    }
  },

  browseJobs: (env: string, filter: JobFilter, order: Order, after: JobCursor | null) =>
    invoke<Page<JobRow, JobCursor>>("browse_jobs", { env, filter, order, after, limit: null }),
  browseUsers: (env: string, after: number | null) =>
    invoke<Page<UserRow, number>>("browse_users", { env, after }),
  browsePipelines: (env: string, after: number | null) =>
    invoke<Page<PipelineRow, number>>("browse_pipelines", { env, after }),
  jobDetail: (env: string, id: number) => invoke<JobDetail | null>("job_detail", { env, id }),
  chartData: (env: string, days: number) => invoke<Charts>("chart_data", { env, days }),
  check: (env: string) => invoke<CheckReport>("check_env", { env }),
  /** Settings: each edits the config through core; the window reloads the workspace after. */
  openExistingEnv: (name: string, isProtected: boolean) =>
    invoke<SettingsOutcome>("open_existing_env", { name, protected: isProtected }),
  /** The new file comes from a native dialog raised by Rust ("existing": open, "new": save), or
   * is the default one; the webview never sends a path. */
  setEnvPath: (env: string, choice: PathChoice) =>
    invoke<SettingsOutcome>("set_env_path", { env, choice }),
  removeEnv: (env: string) => invoke<SettingsOutcome>("remove_env", { env }),
  setRetention: (keep: number, maxTotalMib: number | null) =>
    invoke<SettingsOutcome>("set_retention", { keep, maxTotalMib }),
  verifyBackup: (backup: string) =>
    invoke<VerifyReport>("verify_backup", { backup }),

  /** One read-only statement through core's guard; `op` (`newOpId()`) is what Cancel names. */
  runQuery: (env: string, sql: string, maxRows: number | null, op: string) =>
    invoke<QueryView>("run_query", { env, sql, maxRows, op }),
  /** Export…: Rust raises the native save dialog; core writes a new file (never overwrites). */
  exportRows: (env: string, what: ExportWhat, format: Format, op: string, escapeFormulas = false) =>
    invoke<ExportOutcome>("export_rows", { env, what, format, escapeFormulas, op }),
  schema: (env: string) => invoke<SchemaView>("schema", { env }),
  savedQueries: (env: string) => invoke<SavedQuery[]>("saved_queries", { env }),
  saveQuery: (env: string, name: string, sql: string, replace: boolean) =>
    invoke<SavedQuery[]>("save_query", { env, name, sql, replace }),
  renameQuery: (env: string, from: string, to: string) => invoke<SavedQuery[]>("rename_query", { env, from, to }),
  deleteQuery: (env: string, name: string) => invoke<SavedQuery[]>("delete_query", { env, name }),
};

/** Core's message from a rejected invoke (a `CmdError`), or the raw text. */
export function errorMessage(e: unknown): string {
  if (e && typeof e === "object" && "message" in e) return String((e as { message: unknown }).message);
  return String(e);
}
