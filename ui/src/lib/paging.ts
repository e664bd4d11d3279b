// Keyset paging in the window: a stack of the cursors that started each page seen, so "Previous"
// re-asks for the page after the cursor before it (never an OFFSET).
import type { Page } from "./types";

export interface Pager<C> {
  /** `starts[i]` = the cursor page i starts after (null: the first page). */
  starts: (C | null)[];
  next: C | null;
}

export function firstPager<C>(): Pager<C> {
  return { starts: [null], next: null };
}

export function pageNumber<C>(p: Pager<C>): number {
  return p.starts.length;
}

/** After loading the current page. */
export function loaded<C, T>(p: Pager<C>, page: Page<T, C>): Pager<C> {
  return { starts: p.starts, next: page.next };
}

/** The cursor to load for the next page, and the pager once it is loaded. */
export function forward<C>(p: Pager<C>): { after: C; pager: Pager<C> } | null {
  if (p.next === null) return null;
  return { after: p.next, pager: { starts: [...p.starts, p.next], next: null } };
}

export function back<C>(p: Pager<C>): { after: C | null; pager: Pager<C> } | null {
  if (p.starts.length < 2) return null;
  const starts = p.starts.slice(0, -1);
  return { after: starts[starts.length - 1], pager: { starts, next: null } };
}
