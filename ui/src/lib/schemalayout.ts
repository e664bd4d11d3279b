// A small offline layout of the schema diagram: one box per table (its columns listed), boxes in
// columns filled shortest-first, and a curve per foreign key from the referencing column's row to
// the referenced column's row. Pure numbers; the SchemaView component draws them as SVG.
import type { TableInfo } from "./types";

export const BOX_WIDTH = 250;
export const ROW_HEIGHT = 18;
export const HEADER_HEIGHT = 26;
export const GAP_X = 90;
export const GAP_Y = 30;

export interface Box {
  table: TableInfo;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Edge {
  from: string;
  to: string;
  /** SVG path data of the curve. */
  d: string;
}

export interface Layout {
  boxes: Box[];
  edges: Edge[];
  width: number;
  height: number;
}

export function boxHeight(t: TableInfo): number {
  return HEADER_HEIGHT + Math.max(1, t.columns.length) * ROW_HEIGHT + 8;
}

/** The y of a column's row inside its box (its middle), or the header's for an unknown column. */
export function rowY(b: Box, column: string): number {
  const i = b.table.columns.findIndex((c) => c.name === column);
  return i < 0 ? b.y + HEADER_HEIGHT / 2 : b.y + HEADER_HEIGHT + i * ROW_HEIGHT + ROW_HEIGHT / 2;
}

/** `tables` with the one most foreign keys touch (its own and those pointing at it) moved to
 * the middle column of the first row, so its curves go left and right instead of through boxes. */
export function hubInMiddle(tables: TableInfo[], columns: number): TableInfo[] {
  if (columns < 3 || tables.length < 3) return tables;
  const degree = (t: TableInfo) =>
    t.foreign_keys.length + tables.reduce((n, o) => n + o.foreign_keys.filter((f) => f.table === t.name).length, 0);
  const hub = tables.reduce((best, t) => (degree(t) > degree(best) ? t : best), tables[0]);
  const rest = tables.filter((t) => t !== hub);
  return [rest[0], hub, ...rest.slice(1)];
}

/** Lays out `tables` in `columns` columns (each box goes to the shortest column so far). */
export function layout(tables: TableInfo[], columns = 3): Layout {
  const n = Math.max(1, Math.min(columns, tables.length));
  const heights = new Array<number>(n).fill(0);
  const boxes: Box[] = hubInMiddle(tables, n).map((table) => {
    const col = heights.indexOf(Math.min(...heights));
    const h = boxHeight(table);
    const box = { table, x: col * (BOX_WIDTH + GAP_X), y: heights[col], w: BOX_WIDTH, h };
    heights[col] += h + GAP_Y;
    return box;
  });
  const byName = new Map(boxes.map((b) => [b.table.name, b]));
  const edges: Edge[] = [];
  for (const b of boxes) {
    for (const fk of b.table.foreign_keys) {
      const target = byName.get(fk.table);
      if (!target) continue; // a reference to a table not drawn (another schema, the cap)
      edges.push({ from: b.table.name, to: fk.table, d: curve(b, fk.from[0] ?? "", target, fk.to[0] ?? "") });
    }
  }
  return {
    boxes,
    edges,
    width: n * BOX_WIDTH + (n - 1) * GAP_X + 2,
    height: Math.max(0, ...heights.map((h) => h - GAP_Y)) + 2,
  };
}

/** A cubic curve from the side of `a` facing `b` to the side of `b` facing `a` (or both right
 * sides, looping out, when they share a column). */
function curve(a: Box, fromCol: string, b: Box, toCol: string): string {
  const y1 = rowY(a, fromCol);
  const y2 = rowY(b, toCol);
  if (a.x === b.x) {
    const x = a.x + a.w;
    return `M${x},${y1} C${x + 50},${y1} ${x + 50},${y2} ${x},${y2}`;
  }
  const leftToRight = a.x < b.x;
  const x1 = leftToRight ? a.x + a.w : a.x;
  const x2 = leftToRight ? b.x : b.x + b.w;
  const mid = (x1 + x2) / 2;
  return `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
}
