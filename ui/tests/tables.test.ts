import { describe, expect, it } from "vitest";
import { bookkeepingText, dataText, group } from "../src/lib/tables";
import type { TableRows } from "../src/lib/types";

const t = (name: string, rows: number, kind: TableRows["kind"]): TableRows => ({ name, rows, kind });

describe("the user's tables and the bookkeeping, apart", () => {
  const emptyProd = [
    t("jobs", 0, "data"), t("pipelines", 0, "data"), t("users", 0, "data"),
    t("job_daily_stats", 0, "bookkeeping"), t("pipeline_db_meta", 1, "bookkeeping"),
    t("refinery_schema_history", 2, "bookkeeping"),
  ];

  it("an empty prod reads as empty, its bookkeeping on its own line", () => {
    const g = group(emptyProd);
    expect(g.dataRows).toBe(0);
    expect(dataText(g)).toBe("jobs 0 · pipelines 0 · users 0 (empty)");
    expect(bookkeepingText(g)).toBe("bookkeeping: 3 tables, 3 rows");
  });

  it("follows core's kind, not the table's name", () => {
    const g = group([t("jobs", 1200, "data"), t("pipeline_db_notes", 4, "data"), t("pipeline_db_meta", 1, "bookkeeping")]);
    expect(dataText(g)).toBe("jobs 1,200 · pipeline_db_notes 4");
    expect(g.dataRows).toBe(1204);
    expect(bookkeepingText(g)).toBe("bookkeeping: 1 table, 1 row");
  });

  it("no tables at all", () => {
    const g = group([]);
    expect(dataText(g)).toBe("—");
    expect(bookkeepingText(g)).toBe("");
  });
});
