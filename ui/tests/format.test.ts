import { describe, expect, it } from "vitest";
import { progressText } from "../src/lib/format";

describe("progressText", () => {
  it("counts rows without a total when core does not know it (a query's export)", () => {
    expect(progressText({ stage: "exporting", unit: "rows", done: 120000, total: 0, eta_ms: null })).toBe(
      "exporting: 120,000 rows");
  });

  it("shows sizes for byte progress (backup, export, restore copies)", () => {
    const t = progressText({ stage: "copying", unit: "bytes", done: 512 * 1048576, total: 1024 * 1048576, eta_ms: 2000 });
    expect(t).toBe("copying: 512 MiB / 1.0 GiB · 2 s left");
  });

  it("shows counts for rows (seeding)", () => {
    const t = progressText({ stage: "seeding jobs", unit: "rows", done: 250000, total: 1000000, eta_ms: 61000 });
    expect(t).toBe("seeding jobs: 250,000 / 1,000,000 · 1 min 1 s left");
  });

  it("omits the ETA before there is one", () => {
    expect(progressText({ stage: "verifying", unit: "bytes", done: 0, total: 2048, eta_ms: null })).toBe(
      "verifying: 0 B / 2.0 KiB",
    );
  });
});
