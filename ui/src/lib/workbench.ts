// The Query view's logic, kept out of the components so it can be tested: the editor's completion
// schema, client-side paging of a result, the notice under the grid, operation ids.
import type { QueryView, SchemaView, TableInfo } from "./types";

/** Rows per page of the result grid. */
export const PAGE_SIZE = 50;

/** Table → column names, the shape `@codemirror/lang-sql` completes from (views too). */
export function completionSchema(s: SchemaView | null): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const t of s?.tables ?? []) out[t.name] = t.columns.map((c) => c.name);
  return out;
}

export function pageCount(rows: number, size = PAGE_SIZE): number {
  return Math.max(1, Math.ceil(rows / size));
}

/** The rows of page `page` (0-based, clamped to the pages there are). */
export function pageRows<T>(rows: T[], page: number, size = PAGE_SIZE): T[] {
  const p = Math.min(Math.max(0, page), pageCount(rows.length, size) - 1);
  return rows.slice(p * size, (p + 1) * size);
}

/** "1,000 rows · 12 ms", and whether the result was cut at the cap. */
export function resultNotice(v: QueryView): { summary: string; truncated: string | null } {
  const n = v.rows.length;
  const summary = `${n.toLocaleString("en-US")} row${n === 1 ? "" : "s"} · ${v.elapsed_ms} ms`;
  const truncated = v.truncated
    ? `Truncated at ${v.max_rows.toLocaleString("en-US")} rows: more rows exist. Narrow the query, or Export… the whole result.`
    : null;
  return { summary, truncated };
}

/** A fresh id for a query or export the page starts (what Cancel names). */
export function newOpId(rand: () => number = Math.random): string {
  return `wb-${Date.now().toString(36)}-${Math.floor(rand() * 2 ** 32).toString(36)}`;
}

/** The platform's tables, then pipeline-db's own bookkeeping tables. */
export function splitTables(s: SchemaView | null): { data: TableInfo[]; bookkeeping: TableInfo[] } {
  const tables = s?.tables ?? [];
  return { data: tables.filter((t) => !t.bookkeeping), bookkeeping: tables.filter((t) => t.bookkeeping) };
}

/** Ctrl+Enter (or Cmd+Enter) runs the query. */
export function isRunKey(e: { key: string; ctrlKey: boolean; metaKey: boolean }): boolean {
  return e.key === "Enter" && (e.ctrlKey || e.metaKey);
}
