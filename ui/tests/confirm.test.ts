import { describe, expect, it } from "vitest";
import { canConfirm, confirmLabel, rowsAtRisk, secondsLeft } from "../src/lib/confirm";
import { planned } from "./fixtures";

describe("plan confirmation", () => {
  it("dev and prod alike: the page types no name (prod's is typed in the native dialog)", () => {
    expect(canConfirm(planned("dev", false), 0, 0)).toBe(true);
    expect(canConfirm(planned("prod", true), 0, 0)).toBe(true);
  });
  it("an expired plan cannot be confirmed", () => {
    const p = planned("dev", false);
    expect(canConfirm(p, 119_999, 0)).toBe(true);
    expect(canConfirm(p, 120_000, 0)).toBe(false);
    expect(secondsLeft(p, 110_500, 0)).toBe(10);
    expect(secondsLeft(p, 500_000, 0)).toBe(0);
  });
  it("counts rows at risk only for a reset", () => {
    expect(rowsAtRisk(planned("dev", false))).toBe(506);
    expect(rowsAtRisk(planned("dev", false, "migrate"))).toBe(0);
    expect(confirmLabel(planned("prod", true))).toBe("Reset prod");
  });
});
