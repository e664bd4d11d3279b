// What the Rust commands send and receive is generated from the Rust types into `./generated/`
// (`make types`; a test fails when it is stale). This file re-exports it and adds the window's own.
import type {
  BackupOutcome, BackupPlan, ImportOutcome, ImportPlan, MigrateOutcome, MigratePlan, Planned as PlannedOf, PrunePlan,
  ResetOutcome,
  ResetPlan, RestoreOutcome, RestorePlan, SeedOutcome, SeedPlan, UndoPlan,
} from "./generated";

export type * from "./generated";

/** Every plan a `plan_*` command returns, discriminated by `verb` (a restore plan says "restore"). */
export type AnyPlan =
  ResetPlan | MigratePlan | SeedPlan | BackupPlan | RestorePlan | UndoPlan | PrunePlan | ImportPlan;

/** A prune as the plan modal shows it: what is deleted, what it frees, what is kept (`pruneAsPlan`). */
export interface PrunePreview {
  verb: "prune";
  env: string;
  /** "backups of ENV". */
  path: string;
  notes: string[];
}

/** What the plan modal renders: core's plan, except an undo shows as the restore it wraps (its
 * `verb` is then "undo": `undoAsPlan`) and a prune as its preview. */
export type ShownPlan = Exclude<AnyPlan, UndoPlan | PrunePlan> | PrunePreview;

/** A plan with its token (`Planned<T>` of `src-tauri`), by default as the modal shows it. */
export type Planned<P = ShownPlan> = PlannedOf<P>;

/** What a confirmed action returns (`prune_backups`: the plans it carried out). */
export type Outcome =
  ResetOutcome | MigrateOutcome | SeedOutcome | BackupOutcome | RestoreOutcome | ImportOutcome | PrunePlan[];
