// The user's tables and pipeline-db's bookkeeping, apart: core classifies each table (`kind`);
// the window only groups and words it.
import type { TableRows } from "./types";
import { count } from "./format";

export interface Grouped {
  /** The user's tables (users, pipelines, jobs, and any other), in core's order. */
  data: TableRows[];
  /** Rows in the user's tables. */
  dataRows: number;
  bookkeeping: TableRows[];
  bookkeepingRows: number;
}

export function group(tables: TableRows[]): Grouped {
  const data = tables.filter((t) => t.kind === "data");
  const bookkeeping = tables.filter((t) => t.kind === "bookkeeping");
  const sum = (ts: TableRows[]) => ts.reduce((n, t) => n + t.rows, 0);
  return { data, dataRows: sum(data), bookkeeping, bookkeepingRows: sum(bookkeeping) };
}

function plural(n: number, one: string, many: string): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** "bookkeeping: 3 tables, 5 rows" (empty string without bookkeeping tables). */
export function bookkeepingText(g: Grouped): string {
  if (g.bookkeeping.length === 0) return "";
  return `bookkeeping: ${plural(g.bookkeeping.length, "table", "tables")}, ${plural(g.bookkeepingRows, "row", "rows")}`;
}

/** "jobs 500 · pipelines 12 · users 6", with "(empty)" when none of them holds a row. */
export function dataText(g: Grouped): string {
  if (g.data.length === 0) return "—";
  const list = g.data.map((t) => `${t.name} ${count(t.rows)}`).join(" · ");
  return g.dataRows === 0 ? `${list} (empty)` : list;
}
