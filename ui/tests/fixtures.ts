import type { Planned } from "../src/lib/types";

export function planned(env: string, protectedEnv: boolean, verb = "reset"): Planned {
  return {
    plan: { verb, env, path: `/data/${env}.sqlite3`, tables: [{ name: "jobs", rows: 500 }, { name: "users", rows: 6 }] },
    summary: "drop 2 tables, 506 rows",
    protected: protectedEnv,
    confirmation: protectedEnv ? "type_env_name" : "yes_no",
    issued: { token: "t", expires_in_ms: 120_000, plan_hash: "h" },
  };
}
