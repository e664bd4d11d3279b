import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";

// The Rust side, faked per command.
let calls: [string, Record<string, unknown>][] = [];
let replies: Record<string, (args: Record<string, unknown>) => Promise<unknown>> = {};
vi.mock("@tauri-apps/api/core", () => ({
  invoke: (cmd: string, args: Record<string, unknown>) => {
    calls.push([cmd, args]);
    return (replies[cmd] ?? (async () => undefined))(args);
  },
}));

import QueryView from "../src/components/QueryView.svelte";

const schema = { env: "dev", truncated: false, tables: [] };

describe("QueryView", () => {
  beforeEach(() => {
    calls = [];
    replies = {
      schema: async () => schema,
      saved_queries: async () => [{ name: "Failed jobs", sql: "SELECT * FROM jobs WHERE status = 'failed'", saved_at: "" }],
    };
  });
  afterEach(cleanup);

  it("runs the query, pages the result and shows the truncation notice", async () => {
    replies.run_query = async () => ({
      env: "dev", columns: ["id", "note"], truncated: true, max_rows: 1000, elapsed_ms: 7,
      rows: Array.from({ length: 60 }, (_, i) => [String(i), i === 0 ? null : "x"]),
    });
    render(QueryView, { env: "dev", ontoast: vi.fn() });
    await fireEvent.click(screen.getByTestId("query-run"));
    await waitFor(() => expect(screen.getByTestId("query-summary").textContent).toBe("60 rows · 7 ms"));
    const [cmd, args] = calls.find(([c]) => c === "run_query")!;
    expect(cmd).toBe("run_query");
    expect(args.env).toBe("dev");
    expect(String(args.op)).toMatch(/^wb-/);
    expect(screen.getByTestId("query-truncated").textContent).toMatch(/Truncated at 1,000 rows/);
    expect(screen.getByTestId("query-page").textContent).toBe("page 1 of 2");
    expect(screen.getByTestId("query-result").querySelectorAll("tbody tr")).toHaveLength(50);
    expect(screen.getByTestId("query-result").querySelector("td.null")?.textContent).toBe("NULL");
    await fireEvent.click(screen.getByTestId("query-next"));
    expect(screen.getByTestId("query-result").querySelectorAll("tbody tr")).toHaveLength(10);
  });

  it("shows core's refusal as the error, and offers Cancel while a query runs", async () => {
    let fail: (e: unknown) => void = () => {};
    replies.run_query = () => new Promise((_, reject) => (fail = reject));
    replies.cancel_operation = async () => undefined;
    render(QueryView, { env: "dev", ontoast: vi.fn() });
    await fireEvent.click(screen.getByTestId("query-run"));
    await fireEvent.click(await screen.findByTestId("query-cancel"));
    const op = calls.find(([c]) => c === "run_query")![1].op;
    expect(calls.find(([c]) => c === "cancel_operation")![1]).toEqual({ id: op });
    fail({ kind: "sql_refused", message: "refused: DELETE from jobs. Queries only read", exit_code: 3 });
    await waitFor(() => expect(screen.getByTestId("query-error").textContent).toContain("DELETE from jobs"));
    expect(screen.getByTestId("query-run")).toBeTruthy();
  });

  it("lists the env's saved queries and saves a new one under its name", async () => {
    const ontoast = vi.fn();
    replies.save_query = async (a) => [{ name: a.name, sql: a.sql, saved_at: "" }];
    render(QueryView, { env: "dev", ontoast });
    await screen.findByTestId("saved-Failed jobs");
    await fireEvent.input(screen.getByTestId("save-name"), { target: { value: "Mine" } });
    await fireEvent.click(screen.getByTestId("save-query"));
    await waitFor(() => expect(ontoast).toHaveBeenCalledWith("ok", "Saved “Mine”."));
    const args = calls.find(([c]) => c === "save_query")![1];
    expect(args).toMatchObject({ env: "dev", name: "Mine", replace: false });
    expect(String(args.sql)).toMatch(/^SELECT status/);
    await screen.findByTestId("saved-Mine");
  });

  it("deletes or saves over a saved query only after a second click that names it", async () => {
    const ontoast = vi.fn();
    replies.delete_query = async () => [];
    replies.save_query = async (a) => [{ name: a.name, sql: a.sql, saved_at: "" }];
    render(QueryView, { env: "dev", ontoast });
    const item = await screen.findByTestId("saved-Failed jobs");
    await fireEvent.click(item.querySelector("[data-testid=delete-query]")!);
    expect(screen.getByTestId("confirm-delete").textContent).toContain("Delete “Failed jobs”?");
    await fireEvent.click(screen.getByTestId("confirm-no"));
    expect(calls.some(([c]) => c === "delete_query")).toBe(false);
    expect(screen.queryByTestId("confirm-delete")).toBeNull();
    await fireEvent.click(item.querySelector("[data-testid=delete-query]")!);
    await fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() => expect(ontoast).toHaveBeenCalledWith("ok", "Deleted “Failed jobs”."));
    expect(calls.find(([c]) => c === "delete_query")![1]).toMatchObject({ env: "dev", name: "Failed jobs" });
    // Save over: the editor holds a saved query once one is saved; replacing asks first.
    await fireEvent.input(screen.getByTestId("save-name"), { target: { value: "Mine" } });
    await fireEvent.click(screen.getByTestId("save-query"));
    await fireEvent.click(await screen.findByTestId("save-over"));
    expect(screen.getByTestId("confirm-over").textContent).toContain("Replace the saved SQL of “Mine”?");
    expect(calls.filter(([c]) => c === "save_query")).toHaveLength(1);
    await fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() => expect(calls.filter(([c]) => c === "save_query")).toHaveLength(2));
    expect(calls.filter(([c]) => c === "save_query")[1][1]).toMatchObject({ name: "Mine", replace: true });
  });
});
