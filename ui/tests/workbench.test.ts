import { describe, expect, it } from "vitest";
import { completionSchema, isRunKey, newOpId, pageCount, pageRows, resultNotice, splitTables } from "../src/lib/workbench";
import { boxHeight, hubInMiddle, layout, rowY } from "../src/lib/schemalayout";
import type { QueryView, SchemaView, TableInfo } from "../src/lib/types";

function table(name: string, columns: string[], over: Partial<TableInfo> = {}): TableInfo {
  return {
    name, kind: "table", bookkeeping: false, indexes: [], foreign_keys: [],
    columns: columns.map((c, i) => ({ name: c, decl_type: "TEXT", not_null: false, primary_key: i === 0 ? 1 : 0 })),
    ...over,
  };
}

const schema: SchemaView = {
  env: "dev",
  truncated: false,
  tables: [
    table("jobs", ["id", "user_id", "pipeline_id", "status"], {
      foreign_keys: [{ from: ["user_id"], table: "users", to: ["id"] }, { from: ["pipeline_id"], table: "pipelines", to: ["id"] }],
    }),
    table("pipeline_db_meta", ["env"], { bookkeeping: true }),
    table("pipelines", ["id", "name"]),
    table("users", ["id", "username"]),
  ],
};

function view(rows: number, over: Partial<QueryView> = {}): QueryView {
  return {
    env: "dev", columns: ["n"], rows: Array.from({ length: rows }, (_, i) => [String(i)]), truncated: false,
    max_rows: 1000, elapsed_ms: 12, ...over,
  };
}

describe("the query view's logic", () => {
  it("completes table and column names from core's schema", () => {
    expect(completionSchema(schema).jobs).toEqual(["id", "user_id", "pipeline_id", "status"]);
    expect(Object.keys(completionSchema(schema))).toHaveLength(4);
    expect(completionSchema(null)).toEqual({});
  });

  it("pages a result 50 rows at a time, clamping out-of-range pages", () => {
    const rows = Array.from({ length: 120 }, (_, i) => i);
    expect(pageCount(120)).toBe(3);
    expect(pageCount(0)).toBe(1);
    expect(pageRows(rows, 0)).toHaveLength(50);
    expect(pageRows(rows, 2)).toEqual(rows.slice(100));
    expect(pageRows(rows, 9)).toEqual(rows.slice(100));
    expect(pageRows(rows, -1)[0]).toBe(0);
  });

  it("says how many rows, how long, and when the result was truncated at the cap", () => {
    expect(resultNotice(view(1))).toEqual({ summary: "1 row · 12 ms", truncated: null });
    const t = resultNotice(view(1000, { truncated: true, elapsed_ms: 3 }));
    expect(t.summary).toBe("1,000 rows · 3 ms");
    expect(t.truncated).toMatch(/^Truncated at 1,000 rows/);
  });

  it("names operations in the wb- namespace the Rust side accepts", () => {
    const id = newOpId(() => 0.5);
    expect(id).toMatch(/^wb-[a-z0-9]+-[a-z0-9]+$/);
    expect(id.length).toBeLessThanOrEqual(64);
    expect(newOpId()).not.toBe(newOpId(() => 0.25));
  });

  it("keeps bookkeeping tables apart", () => {
    const { data, bookkeeping } = splitTables(schema);
    expect(data.map((t) => t.name)).toEqual(["jobs", "pipelines", "users"]);
    expect(bookkeeping.map((t) => t.name)).toEqual(["pipeline_db_meta"]);
  });

  it("runs on Ctrl+Enter or Cmd+Enter only", () => {
    expect(isRunKey({ key: "Enter", ctrlKey: true, metaKey: false })).toBe(true);
    expect(isRunKey({ key: "Enter", ctrlKey: false, metaKey: true })).toBe(true);
    expect(isRunKey({ key: "Enter", ctrlKey: false, metaKey: false })).toBe(false);
  });
});

describe("the schema diagram's layout", () => {
  const { data } = splitTables(schema);
  const l = layout(data, 2);

  it("puts every table in a box that fits its columns, without overlaps", () => {
    expect(l.boxes).toHaveLength(3);
    for (const b of l.boxes) expect(b.h).toBe(boxHeight(b.table));
    for (const a of l.boxes) {
      for (const b of l.boxes) {
        if (a === b) continue;
        const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
        expect(apart, `${a.table.name} / ${b.table.name}`).toBe(true);
      }
    }
    for (const b of l.boxes) {
      expect(b.x + b.w).toBeLessThanOrEqual(l.width);
      expect(b.y + b.h).toBeLessThanOrEqual(l.height);
    }
  });

  it("draws one curve per foreign key, from the referencing column's row to the referenced one", () => {
    expect(l.edges.map((e) => `${e.from}->${e.to}`)).toEqual(["jobs->users", "jobs->pipelines"]);
    const jobs = l.boxes.find((b) => b.table.name === "jobs")!;
    const users = l.boxes.find((b) => b.table.name === "users")!;
    const e = l.edges[0];
    const [, y1] = e.d.match(/^M[\d.-]+,([\d.-]+)/)!;
    const [, y2] = e.d.match(/([\d.-]+)$/)!;
    expect(Number(y1)).toBe(rowY(jobs, "user_id"));
    expect(Number(y2)).toBe(rowY(users, "id"));
  });

  it("puts the table most foreign keys touch in the middle column", () => {
    const order = hubInMiddle(data, 3).map((t) => t.name);
    expect(order).toEqual(["pipelines", "jobs", "users"]);
    const l3 = layout(data, 3);
    const jobs = l3.boxes.find((b) => b.table.name === "jobs")!;
    expect(l3.boxes.filter((b) => b.x < jobs.x)).toHaveLength(1);
    expect(l3.boxes.filter((b) => b.x > jobs.x)).toHaveLength(1);
    expect(hubInMiddle(data, 2)).toBe(data);
  });

  it("skips a reference to a table that is not drawn", () => {
    const only = layout([table("a", ["id", "b_id"], { foreign_keys: [{ from: ["b_id"], table: "b", to: ["id"] }] })]);
    expect(only.edges).toEqual([]);
    expect(layout([]).boxes).toEqual([]);
  });
});

import { styleNonce } from "../src/lib/cspnonce";

describe("the CSP nonce for the editor's styles", () => {
  it("is read from the page's empty <style id=csp-nonce>, and absent without one", () => {
    const doc = document.implementation.createHTMLDocument("t");
    expect(styleNonce(doc)).toBeUndefined();
    const st = doc.createElement("style");
    st.id = "csp-nonce";
    st.setAttribute("nonce", "12345");
    doc.head.append(st);
    expect(styleNonce(doc)).toBe("12345");
  });
});
