import { describe, expect, it } from "vitest";
import { budgetUse, policyText, retentionText } from "../src/lib/retention";
import type { BackupsView, RetentionReport } from "../src/lib/types";

const policy = { keep: 10, max_total_mib: 0, budget_mib: 1 };
const report = (over: Partial<RetentionReport>): RetentionReport => ({
  policy, deleted: [], protected: [], unmet: null, kept: 1, kept_bytes: 10, error: null, ...over,
});

describe("retention wording", () => {
  it("says nothing when nothing happened", () => {
    expect(retentionText(null)).toBe("");
    expect(retentionText(report({}))).toBe("");
  });
  it("counts deletions and their bytes, and reports unmet policies and failures", () => {
    const d = (n: number) => ({ path: `/b/${n}`, created_at: "", size_bytes: 1024, why: "x" });
    expect(retentionText(report({ deleted: [d(1), d(2)] }))).toBe("Retention deleted 2 old backups (2.0 KiB).");
    expect(retentionText(report({ deleted: [d(1)], unmet: "over", error: "busy" }))).toBe(
      "Retention deleted 1 old backup (1.0 KiB). Retention policy not met: over Retention failed: busy",
    );
  });
  it("words the policy", () => {
    expect(policyText(policy)).toBe("keep 10 per env · no per-env limit · budget 1.0 MiB for all backups");
    expect(policyText({ keep: 1, max_total_mib: 2, budget_mib: 0 })).toBe("keep 1 per env · at most 2.0 MiB per env · no data dir budget");
  });
  it("measures disk use against the budget", () => {
    const v: BackupsView = { env: "dev", policy, backups: [], undo_target: null, env_bytes: 512 * 1024, all_bytes: 2 * 1024 * 1024 };
    expect(budgetUse(v)).toEqual({ text: "all backups: 2.0 MiB of 1.0 MiB (dev: 512 KiB) — over the budget", fraction: 2 });
    expect(budgetUse({ ...v, policy: { ...policy, budget_mib: 0 } }).fraction).toBeNull();
  });
});
