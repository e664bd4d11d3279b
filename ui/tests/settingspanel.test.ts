import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";

// A plain function, not vi.fn: with vi.fn (vitest 3) a rejected reply failed the test even though
// the component caught it.
let calls: unknown[][] = [];
let reply: () => Promise<unknown> = async () => undefined;
vi.mock("@tauri-apps/api/core", () => ({
  invoke: (...a: unknown[]) => {
    calls.push(a);
    return reply();
  },
}));

import SettingsPanel from "../src/components/SettingsPanel.svelte";
import type { WorkspaceInfo } from "../src/lib/types";

const info: WorkspaceInfo = {
  data_dir: "/d",
  config_path: null,
  config_file: "/d/pipeline-db.toml",
  busy_timeout_ms: 5000,
  retention: { keep: 20, max_total_mib: 0, budget_mib: 8192 },
  unavailable: [],
  envs: ["dev", "prod", "staging", "test"].map((name) => ({
    name, path: `/d/${name}.sqlite3`, protected: name === "prod", backup_dir: `/d/backups/${name}`, compress_backups: true,
  })),
};

function outcome(verb: string, env: string | null) {
  return { written: true, plan: { verb, config_path: "/d/pipeline-db.toml", creates_config: true, env,
    file: { path: "/x/demo.db", exists: true, needs_tag: false, identity: null }, checks: [], changes: [], notes: [], confirmation: "none" } };
}

describe("SettingsPanel", () => {
  beforeEach(() => {
    calls = [];
    reply = async () => undefined;
  });
  afterEach(cleanup);

  it("shows where settings are written and offers Remove only for added envs", () => {
    render(SettingsPanel, { info, onchanged: vi.fn(), onerror: vi.fn() });
    expect(screen.getByTestId("config-file").textContent).toBe("/d/pipeline-db.toml");
    expect(screen.queryByTestId("remove-env-staging")).not.toBeNull();
    for (const b of ["dev", "test", "prod"]) expect(screen.queryByTestId(`remove-env-${b}`)).toBeNull();
  });

  it("a bad or taken name keeps the button disabled and never reaches Rust", async () => {
    render(SettingsPanel, { info, onchanged: vi.fn(), onerror: vi.fn() });
    const button = screen.getByTestId("attach-open") as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    for (const [name, why] of [["Demo", /lowercase/], ["staging", /already exists/]] as const) {
      await fireEvent.input(screen.getByTestId("attach-name"), { target: { value: name } });
      expect(screen.getByTestId("attach-name-problem").textContent).toMatch(why);
      expect(button.disabled).toBe(true);
    }
    expect(calls).toEqual([]);
  });

  it("opens an existing database with the typed name; success reports the env to focus", async () => {
    reply = async () => outcome("env add", "demo");
    const onchanged = vi.fn();
    render(SettingsPanel, { info, onchanged, onerror: vi.fn() });
    await fireEvent.input(screen.getByTestId("attach-name"), { target: { value: "demo" } });
    await fireEvent.click(screen.getByTestId("attach-protected"));
    await fireEvent.click(screen.getByTestId("attach-open"));
    expect(calls).toEqual([["open_existing_env", { name: "demo", protected: true }]]);
    await waitFor(() => expect(onchanged).toHaveBeenCalled());
    expect(onchanged.mock.calls[0][0]).toMatch(/^Added environment demo: \/x\/demo.db/);
    expect(onchanged.mock.calls[0][1]).toBe("demo");
  });

  it("shows core's message when Rust refuses", async () => {
    const message = "/x/other.db is tagged `dev`, not `demo`; nothing was written.";
    reply = async () => {
      throw { kind: "refused", message, exit_code: 3 };
    };
    const onerror = vi.fn();
    render(SettingsPanel, { info, onchanged: vi.fn(), onerror });
    await fireEvent.input(screen.getByTestId("attach-name"), { target: { value: "demo" } });
    await fireEvent.click(screen.getByTestId("attach-open"));
    await waitFor(() => expect(screen.getByTestId("settings-error").textContent).toBe(message));
    expect(onerror).toHaveBeenCalledWith(message);
  });

  it("retention: out-of-range is refused in the form; a valid one is sent", async () => {
    reply = async () => outcome("config set", null);
    render(SettingsPanel, { info, onchanged: vi.fn(), onerror: vi.fn() });
    await fireEvent.input(screen.getByTestId("retention-keep"), { target: { value: "0" } });
    await fireEvent.click(screen.getByTestId("retention-save"));
    expect(screen.getByTestId("settings-error").textContent).toMatch(/out of range/);
    expect(calls).toEqual([]);
    await fireEvent.input(screen.getByTestId("retention-keep"), { target: { value: "7" } });
    await fireEvent.input(screen.getByTestId("retention-mib"), { target: { value: "512" } });
    await fireEvent.click(screen.getByTestId("retention-save"));
    expect(calls).toEqual([["set_retention", { keep: 7, maxTotalMib: 512 }]]);
  });
});
