import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, render, screen, waitFor } from "@testing-library/svelte";

let reply: () => Promise<unknown> = async () => undefined;
vi.mock("@tauri-apps/api/core", () => ({ invoke: () => reply() }));

import SchemaView from "../src/components/SchemaView.svelte";

const col = (name: string, pk = 0) => ({ name, decl_type: "INTEGER", not_null: pk > 0, primary_key: pk });

describe("SchemaView", () => {
  afterEach(cleanup);

  it("draws the data tables with their foreign keys, and the bookkeeping tables apart", async () => {
    reply = async () => ({
      env: "dev", truncated: false,
      tables: [
        { name: "jobs", kind: "table", bookkeeping: false, columns: [col("id", 1), col("user_id")],
          indexes: [{ name: "jobs_user", unique: false, columns: ["user_id"] }],
          foreign_keys: [{ from: ["user_id"], table: "users", to: ["id"] }] },
        { name: "users", kind: "table", bookkeeping: false, columns: [col("id", 1)], indexes: [], foreign_keys: [] },
        { name: "pipeline_db_meta", kind: "table", bookkeeping: true, columns: [col("env")], indexes: [], foreign_keys: [] },
      ],
    });
    render(SchemaView, { env: "dev" });
    const data = await screen.findByTestId("schema-data");
    expect(data.querySelectorAll("g.table")).toHaveLength(2);
    expect(screen.getByTestId("schema-table-jobs").textContent).toContain("user_id");
    expect(screen.getByTestId("fk-jobs-users").getAttribute("d")).toMatch(/^M/);
    const book = screen.getByTestId("schema-bookkeeping");
    expect(book.textContent).toContain("pipeline_db_meta");
    expect(screen.getByTestId("schema-table-jobs").textContent).toContain("id · PK");
    expect(data.textContent).not.toContain("pipeline_db_meta");
    expect(screen.getByTestId("schema-indexes").textContent).toContain("jobs_user (user_id)");
  });

  it("shows core's error when the env has no database yet", async () => {
    reply = async () => Promise.reject({ kind: "missing", message: "/d/test.sqlite3 does not exist; migrate it", exit_code: 2 });
    render(SchemaView, { env: "test" });
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("does not exist"));
  });
});
