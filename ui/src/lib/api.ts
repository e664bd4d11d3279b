// The only place the window talks to Rust: one typed function per command.
import { invoke } from "@tauri-apps/api/core";
import type {
  AnyPlan, AuditEntry, BackupRecord, Charts, EnvStatus, JobCursor, JobDetail, JobFilter, JobRow,
  MigrationsView, Order, Page, PipelineRow, Planned, UserRow, WorkspaceInfo,
} from "./types";

export interface Answer {
  token: string;
  typedEnv?: string | null;
}

/** The verbs that go through a plan + token. */
export type Verb = "reset" | "reset_sample" | "migrate" | "seed" | "backup" | "export";

export const api = {
  workspaceInfo: () => invoke<WorkspaceInfo>("workspace_info"),
  status: () => invoke<EnvStatus[]>("status"),
  listBackups: (env: string) => invoke<BackupRecord[]>("list_backups", { env }),
  migrations: (env: string) => invoke<MigrationsView>("migrations", { env }),
  auditLog: (env: string | null) => invoke<AuditEntry[]>("audit_log", { env }),
  cancelSeed: () => invoke<void>("cancel_seed"),

  plan(verb: Verb, env: string): Promise<Planned<AnyPlan>> {
    switch (verb) {
      case "reset":
      case "reset_sample":
        return invoke("plan_reset", { env, sampleData: verb === "reset_sample" });
      case "migrate":
        return invoke("plan_migrate", { env });
      case "seed":
        return invoke("plan_seed", { env, jobs: null });
      case "backup":
      case "export":
        return invoke("plan_backup", { env, export: verb === "export" });
    }
  },

  run(verb: Verb, env: string, answer: Answer): Promise<unknown> {
    switch (verb) {
      case "reset":
      case "reset_sample":
        return invoke("reset_env", { env, sampleData: verb === "reset_sample", answer });
      case "migrate":
        return invoke("migrate_env", { env, answer });
      case "seed":
        return invoke("seed_env", { env, jobs: null, answer });
      case "backup":
      case "export":
        return invoke("backup_env", { env, export: verb === "export", label: null, answer });
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
};

/** Core's message from a rejected invoke (a `CmdError`), or the raw text. */
export function errorMessage(e: unknown): string {
  if (e && typeof e === "object" && "message" in e) return String((e as { message: unknown }).message);
  return String(e);
}
