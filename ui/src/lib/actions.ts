// Whether an env card's button can apply: core decides (`EnvStatus.actions`), the window only
// disables the button and shows core's reason.
import type { Actions, EnvStatus } from "./types";
import type { Action } from "./api";

/** The buttons of an env card: the plan actions, and check. */
export type CardAction = Exclude<Action, "prune" | "import"> | "check";

/** Which of core's answers a button follows (export is a backup to a file you choose). */
const FOLLOWS: Record<CardAction, keyof Actions> = {
  migrate: "migrate", seed: "seed", reset: "reset", reset_sample: "reset_sample", backup: "backup",
  export: "backup", restore: "restore", undo: "undo", check: "check",
};

export interface Availability {
  disabled: boolean;
  /** Why not, for the tooltip and screen readers (null when available). */
  reason: string | null;
}

/** `unavailable`: verbs this build does not wire (WorkspaceInfo.unavailable). */
export function availability(s: EnvStatus, action: CardAction, unavailable: string[] = []): Availability {
  if (unavailable.includes(action)) return { disabled: true, reason: "not available in this build" };
  const a = s.actions[FOLLOWS[action]];
  return a.available ? { disabled: false, reason: null } : { disabled: true, reason: a.reason ?? "not available now" };
}
