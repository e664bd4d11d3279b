import { describe, expect, it } from "vitest";
import { describeOutcome, envNameProblem, parseRetention } from "../src/lib/settings";
import type { SettingsOutcome } from "../src/lib/types";

describe("new env name", () => {
  it("accepts what core accepts", () => {
    for (const ok of ["demo", "staging-2", "a_b", "x".repeat(32)]) expect(envNameProblem(ok, ["dev"])).toBeNull();
  });
  it("says why a name is refused", () => {
    expect(envNameProblem("", [])).toMatch(/type a name/);
    expect(envNameProblem("Demo", [])).toMatch(/lowercase/);
    expect(envNameProblem("1x", [])).toMatch(/lowercase/);
    expect(envNameProblem("a/../b", [])).toMatch(/only a-z/);
    expect(envNameProblem("x".repeat(33), [])).toMatch(/longer than 32/);
    expect(envNameProblem("dev", ["dev", "test"])).toMatch(/already exists/);
  });
});

describe("retention form", () => {
  it("keeps 1 to 1000, blank size bound means unchanged", () => {
    expect(parseRetention("5", "")).toEqual({ keep: 5, maxMib: null });
    expect(parseRetention(" 1000 ", "0")).toEqual({ keep: 1000, maxMib: 0 });
  });
  it("refuses what core would refuse", () => {
    for (const bad of ["0", "1001", "-1", "2.5", "x", ""]) expect(parseRetention(bad, "")).toHaveProperty("error");
    expect(parseRetention("5", "-3")).toHaveProperty("error");
    expect(parseRetention("5", String(2 ** 20 + 1))).toHaveProperty("error");
  });
});

describe("outcome toast", () => {
  const outcome = (over: Partial<SettingsOutcome["plan"]>): SettingsOutcome => ({
    written: true,
    plan: {
      verb: "env add", config_path: "/d/pipeline-db.toml", creates_config: false, env: "demo",
      file: { path: "/x/legacy.db", exists: true, needs_tag: true, identity: { state: "untagged" }, application_id: 0 },
      checks: [], changes: ["envs.demo.path = /x/legacy.db"], notes: [], confirmation: "none", ...over,
    },
  });
  it("names the env, the file, a new config, and the next step", () => {
    const t = describeOutcome(outcome({ creates_config: true, notes: ["tag it with `pipeline-db env set demo`"] }));
    expect(t).toBe("Added environment demo: /x/legacy.db. Created /d/pipeline-db.toml. Tag it with `pipeline-db env set demo`.");
  });
  it("describes removal, repointing and plain settings", () => {
    expect(describeOutcome(outcome({ verb: "env remove", file: null }))).toMatch(/^Removed environment demo/);
    expect(describeOutcome(outcome({ verb: "env path", env: "dev", file: null }))).toMatch(/^dev now uses its default file/);
    expect(describeOutcome(outcome({ verb: "config set", env: null, changes: ["retention.keep = 5"] }))).toBe("Saved: retention.keep = 5.");
  });
});
