import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import EnvCard from "../src/components/EnvCard.svelte";
import { availability } from "../src/lib/actions";
import { actions, envStatus } from "./fixtures";

const no = (reason: string) => ({ available: false, reason });

describe("availability: core's answer per button", () => {
  it("export follows backup; a build's unavailable verbs are disabled too", () => {
    const s = envStatus({ actions: actions({ backup: no("dev does not exist yet") }) });
    expect(availability(s, "export")).toEqual({ disabled: true, reason: "dev does not exist yet" });
    expect(availability(s, "undo")).toEqual({ disabled: false, reason: null });
    expect(availability(s, "undo", ["undo"]).disabled).toBe(true);
  });
});

describe("EnvCard", () => {
  afterEach(cleanup);

  it("disables what core says cannot apply, with the reason as tooltip and for screen readers", async () => {
    const onaction = vi.fn();
    const s = envStatus({
      env: "prod", protected: true, exists: false, health: "missing",
      actions: actions({
        reset: no("prod does not exist yet: Migrate creates it"),
        undo: no("nothing to undo: no action on prod took a backup yet"),
      }),
    });
    render(EnvCard, { s, focused: false, unavailable: [], onfocus: vi.fn(), onaction, oncheck: vi.fn() });
    const reset = screen.getByTestId("act-reset-prod") as HTMLButtonElement;
    expect(reset.disabled).toBe(true);
    expect(reset.title).toBe("prod does not exist yet: Migrate creates it");
    expect(reset.getAttribute("aria-describedby")).toBe("why-reset-prod");
    expect(screen.getByTestId("why-reset-prod").textContent).toBe("prod does not exist yet: Migrate creates it");
    expect((screen.getByTestId("act-undo-prod") as HTMLButtonElement).disabled).toBe(true);
    const migrate = screen.getByTestId("act-migrate-prod") as HTMLButtonElement;
    expect(migrate.disabled).toBe(false);
    expect(migrate.title).toBe("");
    expect(screen.queryByTestId("why-migrate-prod")).toBeNull();
    await fireEvent.click(migrate);
    expect(onaction).toHaveBeenCalledWith("migrate");
  });

  it("shows the user's rows first and the bookkeeping apart, collapsed", () => {
    const s = envStatus({
      tables: [
        { name: "jobs", rows: 0, kind: "data" }, { name: "users", rows: 0, kind: "data" },
        { name: "pipeline_db_meta", rows: 1, kind: "bookkeeping" }, { name: "refinery_schema_history", rows: 2, kind: "bookkeeping" },
      ],
    });
    render(EnvCard, { s, focused: false, unavailable: [], onfocus: vi.fn(), onaction: vi.fn(), oncheck: vi.fn() });
    expect(screen.getByTestId("rows-dev").textContent).toBe("jobs 0 · users 0 (empty)");
    const book = screen.getByTestId("bookkeeping-dev") as HTMLDetailsElement;
    expect(book.open).toBe(false);
    expect(book.querySelector("summary")?.textContent).toBe("bookkeeping: 2 tables, 3 rows");
  });
});
