// Retention as the window says it: what the pass after a backup did, and the Backups view's
// policy and disk use against the budget (core decides; this only words it).
import { bytes } from "./format";
import type { BackupsView, Retention, RetentionReport } from "./types";

/** One sentence per thing the automatic retention pass did ("" when it did nothing to say). */
export function retentionText(r: RetentionReport | null | undefined): string {
  if (!r) return "";
  const parts: string[] = [];
  if (r.deleted.length > 0) {
    const freed = r.deleted.reduce((n, d) => n + d.size_bytes, 0);
    const n = r.deleted.length;
    parts.push(`Retention deleted ${n} old backup${n === 1 ? "" : "s"} (${bytes(freed)}).`);
  }
  if (r.unmet) parts.push(`Retention policy not met: ${r.unmet}`);
  if (r.error) parts.push(`Retention failed: ${r.error}`);
  return parts.join(" ");
}

/** "keep 10 per env · no per-env limit · budget 8.0 GiB". */
export function policyText(p: Retention): string {
  const mib = (m: number) => bytes(m * 1024 * 1024);
  return [
    `keep ${p.keep} per env`,
    p.max_total_mib > 0 ? `at most ${mib(p.max_total_mib)} per env` : "no per-env limit",
    p.budget_mib > 0 ? `budget ${mib(p.budget_mib)} for all backups` : "no data dir budget",
  ].join(" · ");
}

/** Disk use against the data dir's budget: the text and the meter's fraction (null: no budget). */
export function budgetUse(v: BackupsView): { text: string; fraction: number | null } {
  const budget = v.policy.budget_mib * 1024 * 1024;
  const mine = `${v.env}: ${bytes(v.env_bytes)}`;
  if (budget <= 0) return { text: `all backups: ${bytes(v.all_bytes)} (${mine})`, fraction: null };
  const fraction = v.all_bytes / budget;
  const over = fraction > 1 ? " — over the budget" : "";
  return { text: `all backups: ${bytes(v.all_bytes)} of ${bytes(budget)} (${mine})${over}`, fraction };
}
