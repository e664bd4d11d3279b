import { describe, expect, it } from "vitest";
import { backupSizes, dayRange, jobsPerDay, statusDistribution, successRates } from "../src/lib/chartdata";
import type { Charts } from "../src/lib/types";

const charts: Charts = {
  since: "2026-01-01T10:00:00Z",
  status_counts: [{ key: "completed", n: 7 }, { key: "failed", n: 3 }, { key: "pending", n: 0 }],
  per_day: [
    { day: "2026-01-01", status: "completed", n: 2 },
    { day: "2026-01-03", status: "failed", n: 3 },
    { day: "2026-01-03", status: "completed", n: 5 },
  ],
  per_pipeline: [
    { pipeline: "rnaseq", completed: 9, failed: 1, total: 12 },
    { pipeline: "sarek", completed: 1, failed: 1, total: 2 },
    { pipeline: "idle", completed: 0, failed: 0, total: 4 },
  ],
  backups: [
    { created_at: "2026-01-03T00:00:00Z", size_bytes: 4096, reason: "manual" },
    { created_at: "2026-01-01T00:00:00Z", size_bytes: 2048, reason: "pre-reset" },
  ],
};

describe("chart data shaping", () => {
  it("fills every day of the range, including empty ones", () => {
    expect(dayRange("2026-01-30T05:00:00Z", "2026-02-02")).toEqual(["2026-01-30", "2026-01-31", "2026-02-01", "2026-02-02"]);
  });
  it("stacks jobs per day by status", () => {
    const s = jobsPerDay(charts, "2026-01-04");
    expect(s.labels).toEqual(["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]);
    const by = Object.fromEntries(s.datasets.map((d) => [d.label, d.data]));
    expect(by.completed).toEqual([2, 0, 5, 0]);
    expect(by.failed).toEqual([0, 0, 3, 0]);
    expect(by.pending).toEqual([0, 0, 0, 0]);
  });
  it("leaves zero statuses out of the distribution", () => {
    expect(statusDistribution(charts)).toMatchObject({ labels: ["completed", "failed"], data: [7, 3] });
  });
  it("computes success rate over finished jobs, worst first", () => {
    expect(successRates(charts)).toEqual({ labels: ["sarek", "rnaseq"], data: [50, 90] });
  });
  it("orders backups by time and shows KiB", () => {
    expect(backupSizes(charts).data).toEqual([2, 4]);
  });
});
