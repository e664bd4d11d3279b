// Settings form logic: quick feedback before asking Rust (core still decides and says why), and
// the toast text of an outcome.
import type { SettingsOutcome } from "./types";

export const BUILTIN_ENVS = ["dev", "test", "prod"];
export const KEEP_MIN = 1;
export const KEEP_MAX = 1000;
export const MAX_TOTAL_MIB = 1 << 20;

/** Why `name` cannot be a new env (the same rule as core's `check_env_name`), or null. */
export function envNameProblem(name: string, existing: string[]): string | null {
  if (name === "") return "type a name for the new environment";
  if (!/^[a-z]/.test(name)) return "it must start with a lowercase letter";
  if (name.length > 32) return "it is longer than 32 characters";
  if (!/^[a-z0-9_-]+$/.test(name)) return "only a-z, 0-9, _ and - are allowed";
  if (existing.includes(name)) return `environment ${name} already exists`;
  return null;
}

export type Parsed = { value: number } | { error: string };

/** A whole number in [min, max] typed in a field. */
export function parseWhole(text: string, min: number, max: number, what: string): Parsed {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return { error: `${what}: type a whole number from ${min} to ${max}` };
  const value = Number(t);
  if (value < min || value > max) return { error: `${what}: ${value} is out of range (${min} to ${max})` };
  return { value };
}

/** The retention form: keep 1–1000, optional MiB bound (blank = unchanged, 0 = none). */
export function parseRetention(keep: string, maxMib: string): { keep: number; maxMib: number | null } | { error: string } {
  const k = parseWhole(keep, KEEP_MIN, KEEP_MAX, "backups kept");
  if ("error" in k) return k;
  if (maxMib.trim() === "") return { keep: k.value, maxMib: null };
  const m = parseWhole(maxMib, 0, MAX_TOTAL_MIB, "size bound (MiB)");
  if ("error" in m) return m;
  return { keep: k.value, maxMib: m.value };
}

/** One line for the toast: what changed, then what to do next. */
export function describeOutcome(o: SettingsOutcome): string {
  const p = o.plan;
  const head =
    p.verb === "env add" ? `Added environment ${p.env}: ${p.file?.path ?? ""}.`
    : p.verb === "env remove" ? `Removed environment ${p.env} from the config.`
    : p.verb === "env path" ? `${p.env} now uses ${p.file?.path ?? "its default file"}.`
    : `Saved: ${p.changes.join(", ")}.`;
  const where = p.creates_config ? ` Created ${p.config_path}.` : "";
  const notes = p.notes.length ? ` ${p.notes.map((n) => n.charAt(0).toUpperCase() + n.slice(1)).join(". ")}.` : "";
  return head + where + notes;
}
