import { describe, expect, it } from "vitest";
import { back, firstPager, forward, loaded, pageNumber } from "../src/lib/paging";

type C = { created_at: string; id: number };
const c = (id: number): C => ({ created_at: `2026-01-0${id}T00:00:00Z`, id });

describe("keyset pager", () => {
  it("walks forward with the cursor of the last row and back through the stack", () => {
    let p = loaded(firstPager<C>(), { rows: [], next: c(1) });
    expect(pageNumber(p)).toBe(1);
    expect(back(p)).toBeNull();
    const f1 = forward(p)!;
    expect(f1.after).toEqual(c(1));
    p = loaded(f1.pager, { rows: [], next: c(2) });
    const f2 = forward(p)!;
    expect(f2.after).toEqual(c(2));
    p = loaded(f2.pager, { rows: [], next: null });
    expect(pageNumber(p)).toBe(3);
    expect(forward(p)).toBeNull();
    const b = back(p)!;
    expect(b.after).toEqual(c(1));
    expect(pageNumber(b.pager)).toBe(2);
    const b2 = back(loaded(b.pager, { rows: [], next: c(2) }))!;
    expect(b2.after).toBeNull();
    expect(pageNumber(b2.pager)).toBe(1);
  });
});
