import { describe, expect, it } from "vitest";
import { undoAsPlan } from "../src/lib/api";
import { auditEntry, prunePlan, restorePlan, restoreSource, undoPlan } from "./fixtures";

describe("undo plan shaping", () => {
  it("shows the wrapped restore plan as an undo, with what would be lost", () => {
    const p = undoAsPlan({
      plan: undoPlan({
        env: "dev",
        action: auditEntry({ verb: "reset", time: "2026-11-26T13:00:00Z", summary: "drop 3 tables" }),
        restore: restorePlan({ verb: "restore", env: "dev", path: "/d/dev.sqlite3", notes: ["from dev"], source: restoreSource({ path: "/b/x.sqlite3", total_rows: 9, tables: [] }) }),
        changed_since: ["jobs: 3 rows added"],
        change_unknown: false,
      }),
      summary: "undo reset",
      protected: false,
      confirmation: "yes_no",
      issued: { token: "t", expires_in_ms: 1000, plan_hash: "h" },
    });
    expect(p.plan.verb).toBe("undo");
    expect(p.plan.path).toBe("/d/dev.sqlite3");
    expect(p.plan.source?.path).toBe("/b/x.sqlite3");
    expect(p.plan.notes).toEqual([
      "undoes reset of 2026-11-26T13:00:00Z (drop 3 tables)",
      "changed since, and lost by the undo: jobs: 3 rows added",
      "from dev",
    ]);
    expect(p.issued.token).toBe("t");
  });
});

import { pruneAsPlan } from "../src/lib/api";

describe("prune plan shaping", () => {
  it("lists what is deleted and what it frees", () => {
    const p = pruneAsPlan({
      plan: prunePlan({
        env: "dev", keep: 1, total_bytes_before: 3072, frees_bytes: 2048,
        delete: [{ path: "/b/1.sqlite3", created_at: "t1", size_bytes: 2048, why: "beyond keep = 1" }],
        protected: [{ path: "/b/2.sqlite3", created_at: "t2", size_bytes: 1024, why: "newest verified" }],
      }),
      summary: "s", protected: false, confirmation: "yes_no",
      issued: { token: "t", expires_in_ms: 1000, plan_hash: "h" },
    });
    expect(p.plan.verb).toBe("prune");
    expect(p.plan.notes).toEqual([
      "frees 2.0 KiB of 3.0 KiB; keeps the newest 1",
      "delete /b/1.sqlite3 (2.0 KiB, beyond keep = 1)",
      "keep /b/2.sqlite3 (newest verified)",
    ]);
  });
});
