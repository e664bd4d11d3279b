import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";

let calls: [string, Record<string, unknown>][] = [];
let reply: Record<string, unknown> = {};
vi.mock("@tauri-apps/api/core", () => ({
  invoke: async (cmd: string, args: Record<string, unknown>) => {
    calls.push([cmd, args]);
    return reply;
  },
}));

import ExportButton from "../src/components/ExportButton.svelte";

const outcome = (formula_cells: number, formulas_escaped: boolean) => ({
  env: "dev", source: { kind: "query", sql: "SELECT 1" }, format: "csv", path: "/tmp/x.csv",
  rows: 20, bytes: 100, duration_ms: 1, formula_cells, formulas_escaped,
});

describe("ExportButton", () => {
  afterEach(() => { cleanup(); calls = []; });

  it("names formula-like CSV cells, and escapes them when asked for a spreadsheet", async () => {
    const ondone = vi.fn();
    reply = outcome(2, false);
    render(ExportButton, { env: "dev", what: () => ({ kind: "query", sql: "SELECT 1" }), ondone });
    await fireEvent.click(screen.getByTestId("export-open"));
    await waitFor(() => expect(ondone).toHaveBeenCalled());
    expect(calls[0][1].escapeFormulas).toBe(false);
    expect(ondone.mock.calls[0][1]).toContain("2 text cells begin with = + - @");
    reply = outcome(2, true);
    await fireEvent.click(screen.getByTestId("export-spreadsheet"));
    await fireEvent.click(screen.getByTestId("export-open"));
    await waitFor(() => expect(ondone).toHaveBeenCalledTimes(2));
    expect(calls[1][1].escapeFormulas).toBe(true);
    expect(ondone.mock.calls[1][1]).toContain("were written after a '");
    // Not offered for JSON (a spreadsheet runs no formula there).
    await fireEvent.change(screen.getByTestId("export-format"), { target: { value: "json" } });
    expect(screen.queryByTestId("export-spreadsheet")).toBeNull();
  });
});
