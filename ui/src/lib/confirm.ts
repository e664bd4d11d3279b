// When the plan modal's confirm button may be pressed. The Rust side checks the same things again
// (token, native dialog): this only keeps the window honest and helpful.
import type { Planned } from "./types";

/** A protected env: its name is typed in the native dialog that follows (never in the page). */
export function needsTypedName(p: Planned): boolean {
  return p.confirmation === "type_env_name";
}

export function canConfirm(p: Planned, now: number, issuedAt: number): boolean {
  if (now - issuedAt >= p.issued.expires_in_ms) return false;
  // Core says whether an import can run (bad rows, duplicates, missing references: it cannot).
  return !(p.plan.verb === "import" && !p.plan.importable);
}

export function secondsLeft(p: Planned, now: number, issuedAt: number): number {
  return Math.max(0, Math.ceil((p.issued.expires_in_ms - (now - issuedAt)) / 1000));
}

/** The user's rows the plan will remove (reset: core's count of the rows in the user's tables;
 * pipeline-db's bookkeeping is not the user's data). */
export function rowsAtRisk(p: Planned): number {
  return p.plan.verb === "reset" ? p.plan.data_rows : 0;
}

/** Button words for core's verb names that are not one imperative word. */
const LABELS: Record<string, string> = { "backups prune": "Prune backups of", "env set": "Tag" };

export function confirmLabel(p: Planned): string {
  const name: string = p.plan.verb;
  const verb = p.plan.verb === "backup" && p.plan.export ? "Export" : LABELS[name] ?? name.charAt(0).toUpperCase() + name.slice(1);
  return `${verb} ${p.plan.env}`;
}
