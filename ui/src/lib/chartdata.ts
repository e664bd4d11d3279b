// Shapes core's chart aggregates into Chart.js datasets (pure functions, unit-tested).
import type { Charts } from "./types";

export const STATUSES = ["completed", "failed", "running", "pending"] as const;
export const STATUS_COLORS: Record<string, string> = {
  completed: "#16a34a",
  failed: "#dc2626",
  running: "#2563eb",
  pending: "#a3a3a3",
};

/** Every day from `since` to `today` inclusive (YYYY-MM-DD), so empty days show as gaps. */
export function dayRange(since: string, today: string): string[] {
  const out: string[] = [];
  const d = new Date(since.slice(0, 10) + "T00:00:00Z");
  const end = new Date(today.slice(0, 10) + "T00:00:00Z");
  while (d <= end && out.length < 4000) {
    out.push(d.toISOString().slice(0, 10));
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return out;
}

export interface Stacked {
  labels: string[];
  datasets: { label: string; data: number[]; backgroundColor: string }[];
}

export function jobsPerDay(c: Charts, today: string): Stacked {
  const labels = dayRange(c.since, today);
  const index = new Map(labels.map((d, i) => [d, i]));
  const datasets = STATUSES.map((s) => ({
    label: s,
    data: labels.map(() => 0),
    backgroundColor: STATUS_COLORS[s],
  }));
  for (const p of c.per_day) {
    const i = index.get(p.day);
    const ds = datasets.find((d) => d.label === p.status);
    if (i !== undefined && ds) ds.data[i] += p.n;
  }
  return { labels, datasets };
}

export function statusDistribution(c: Charts): { labels: string[]; data: number[]; colors: string[] } {
  const counts = new Map(c.status_counts.map((s) => [s.key, s.n]));
  const labels = STATUSES.filter((s) => (counts.get(s) ?? 0) > 0);
  return {
    labels,
    data: labels.map((s) => counts.get(s) ?? 0),
    colors: labels.map((s) => STATUS_COLORS[s]),
  };
}

/** Success rate = completed / (completed + failed), in percent; pipelines with no finished job are left out. */
export function successRates(c: Charts): { labels: string[]; data: number[] } {
  const rows = c.per_pipeline
    .filter((p) => p.completed + p.failed > 0)
    .map((p) => ({ name: p.pipeline, rate: (100 * p.completed) / (p.completed + p.failed) }))
    .sort((a, b) => a.rate - b.rate || a.name.localeCompare(b.name));
  return { labels: rows.map((r) => r.name), data: rows.map((r) => Math.round(r.rate * 10) / 10) };
}

export function backupSizes(c: Charts): { labels: string[]; data: number[] } {
  const rows = [...c.backups].sort((a, b) => a.created_at.localeCompare(b.created_at));
  return {
    labels: rows.map((b) => b.created_at.replace("T", " ").slice(0, 16)),
    data: rows.map((b) => Math.round((b.size_bytes / 1024) * 10) / 10),
  };
}
