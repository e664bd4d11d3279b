import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import PlanModal from "../src/components/PlanModal.svelte";
import { importPlan, issued, planned } from "./fixtures";

describe("PlanModal", () => {
  afterEach(cleanup);

  it("renders the plan: file, tables with row counts, rows at risk", () => {
    render(PlanModal, { planned: planned("dev", false), issuedAt: 0, now: () => 0, onconfirm: vi.fn(), oncancel: vi.fn() });
    expect(screen.getByTestId("plan-modal").textContent).toContain("/data/dev.sqlite3");
    expect(screen.getByTestId("plan-tables").textContent).toContain("jobs");
    expect(screen.getByTestId("rows-at-risk").textContent).toBe("506");
    expect(screen.getByTestId("plan-tables").textContent).not.toContain("pipeline_db_meta 1");
    expect(screen.getByTestId("plan-bookkeeping").textContent).toContain("bookkeeping: 2 tables, 3 rows");
    expect(screen.queryByTestId("typed-next")).toBeNull();
  });

  it("a reset of empty tables says so: only bookkeeping rows go", () => {
    const p = planned("prod", true);
    if (p.plan.verb !== "reset") throw new Error("a reset plan");
    p.plan.tables = p.plan.tables.map((t) => (t.kind === "data" ? { ...t, rows: 0 } : t));
    p.plan.data_rows = 0;
    render(PlanModal, { planned: p, issuedAt: 0, now: () => 0, onconfirm: vi.fn(), oncancel: vi.fn() });
    expect(screen.getByTestId("rows-at-risk").textContent).toBe("none: your tables are empty");
  });

  it("dev: confirm sends, cancel cancels", async () => {
    const onconfirm = vi.fn();
    const oncancel = vi.fn();
    render(PlanModal, { planned: planned("dev", false), issuedAt: 0, now: () => 0, onconfirm, oncancel });
    await fireEvent.click(screen.getByTestId("plan-confirm"));
    expect(onconfirm).toHaveBeenCalled();
    await fireEvent.click(screen.getByTestId("plan-cancel"));
    expect(oncancel).toHaveBeenCalled();
  });

  it("prod: no name is typed in the page; the modal says the native dialog asks for it", async () => {
    const onconfirm = vi.fn();
    render(PlanModal, { planned: planned("prod", true), issuedAt: 0, now: () => 0, onconfirm, oncancel: vi.fn() });
    expect(screen.getByTestId("plan-modal").textContent).toContain("PROTECTED");
    expect(screen.getByTestId("plan-modal").querySelector("input")).toBeNull();
    expect(screen.getByTestId("typed-next").textContent).toContain("type prod");
    await fireEvent.click(screen.getByTestId("plan-confirm"));
    expect(onconfirm).toHaveBeenCalled();
  });

  it("an expired plan cannot be confirmed", () => {
    render(PlanModal, { planned: planned("dev", false), issuedAt: 0, now: () => 121_000, onconfirm: vi.fn(), oncancel: vi.fn() });
    expect((screen.getByTestId("plan-confirm") as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId("plan-expiry").textContent).toContain("expired");
  });

  it("import: rows added, the table, the file, the rows now and the backup first", () => {
    const p = { plan: importPlan(), summary: "import 2 rows into users from /in/users.csv", protected: false,
      confirmation: "yes_no" as const, issued };
    render(PlanModal, { planned: p, issuedAt: 0, now: () => 0, onconfirm: vi.fn(), oncancel: vi.fn() });
    const shown = screen.getByTestId("plan-import").textContent ?? "";
    expect(shown).toContain("2 rows into users from /in/users.csv");
    expect(shown).toContain("columns username, email");
    expect(screen.getByTestId("plan-tables").textContent).toContain("Rows now");
    expect(screen.getByTestId("plan-backup").textContent).toContain("pre-import");
    expect(screen.getByTestId("plan-confirm").textContent).toBe("Import dev");
    expect(screen.queryByTestId("plan-import-problems")).toBeNull();
  });

  it("an import core says cannot run lists its bad rows and offers no confirmation", async () => {
    const bad = (line: number) => ({ line, column: "role", value: "\"boss\"", rule: "CHECK constraint failed: role" });
    const plan = importPlan({
      importable: false, bad_row_count: 1234, bad_rows: [bad(3), bad(5)],
      duplicate_count: 1, duplicates: [{ line: 9, column: "username", value: "\"ann\"", rule: "an earlier line of the file has this username" }],
    });
    const onconfirm = vi.fn();
    render(PlanModal, { planned: { plan, summary: "import", protected: false, confirmation: "yes_no" as const, issued },
      issuedAt: 0, now: () => 0, onconfirm, oncancel: vi.fn() });
    const shown = screen.getByTestId("plan-import-problems").textContent ?? "";
    expect(shown).toContain("cannot run");
    expect(shown).toContain("Rows that break a rule: 1,234");
    expect(shown).toContain("line 3, role");
    expect(shown).toContain("… and 1,232 more");
    expect(shown).toContain("Duplicate keys: 1");
    expect(shown).not.toContain("References to missing rows");
    const button = screen.getByTestId("plan-confirm") as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    await fireEvent.click(button);
    expect(onconfirm).not.toHaveBeenCalled();
  });
});
