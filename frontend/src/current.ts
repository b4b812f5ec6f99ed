/** Which module the dashboard's "Continue →" points at. */
import type { ModuleSummary } from "./decode";

/** The module to continue: one passed but waiting for its reflection, else the open one worked on most recently,
 * else the first open one in course order. */
export function currentModule(modules: ModuleSummary[]): ModuleSummary | undefined {
  const reflecting = modules.find((m) => m.state === "passed");
  if (reflecting) return reflecting;
  const started = modules.filter((m) => m.state === "unlocked" && m.attempts > 0).sort((a, b) => (b.lastAt ?? "").localeCompare(a.lastAt ?? ""));
  return started[0] ?? modules.find((m) => m.state === "unlocked");
}
