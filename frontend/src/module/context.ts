/**
 * The module page's shared state (`Ctx`) and the small header helpers every pane uses.
 *
 * Each pane (guide, hints, history, reflection, runs, reference diff) is a module of functions over one `Ctx`,
 * built once by `mount.ts`; panes never reach into each other's DOM except through the fields here.
 */
import type { Hint, ModuleDetail, ReflectionQuestion, Submission } from "../api";
import type { ReferenceDiff } from "../diff";
import type { DiscussionView } from "../discussion";
import { h } from "../dom";
import type { LabEditor } from "../editor";
import { pick, t, type MessageKey } from "../i18n";
import type { ResultsView } from "../results";
import type { GradingSocket } from "../ws";
import type { DraftSaver } from "./drafts";
import type { Follower } from "./follow";

export type TabName = "guide" | "hints" | "history" | "reflection" | "discussion";

export interface Ctx {
  detail: ModuleDetail;
  editor: LabEditor;
  saver: DraftSaver;
  results: ResultsView;
  socket: GradingSocket;
  /** Follows the submission being graded (follow.ts). */
  follower: Follower;
  submissions: Submission[];
  hints: Map<string, Hint>;
  questions: ReflectionQuestion[];
  answers: Record<string, string>;
  /** The similarity self-check (``grading.similarity``): set when the pass matches the reference closely. */
  selfCheck: { score: number; submission: string } | null;
  stepChips: HTMLElement;
  stateBadge: HTMLElement;
  nextLink: HTMLAnchorElement;
  runButton: HTMLButtonElement;
  selectTab: (name: TabName) => void;
  panels: Record<TabName, HTMLElement>;
  diff: ReferenceDiff | null;
  onAttempt: () => void;
  discussion: DiscussionView | null;
}

/** A step's learner-facing name: "Step 2 · its title" (never the raw id; an unknown id reads as "Step"). */
export function stepLabel(detail: ModuleDetail, id: string | null): string {
  const index = detail.steps.findIndex((s) => s.id === id);
  if (index < 0) return id ? t("results.step", { step: "" }).trim() : t("hints.general");
  const step = detail.steps[index];
  return t("module.step_label", { n: index + 1, title: pick(step?.title) });
}

export function badge(state: string): HTMLElement {
  return h("span", { class: `badge badge-${state}`, "data-testid": "module-state", "data-state": state }, t(`state.${state}` as MessageKey));
}

export function setModuleState(ctx: Ctx, state: string): void {
  const fresh = badge(state);
  ctx.stateBadge.replaceWith(fresh);
  ctx.stateBadge = fresh;
}

export function setTabCount(tab: TabName, n: number): void {
  const el = document.querySelector(`[data-tab=${tab}] .count`);
  if (el) el.textContent = n > 0 ? String(n) : "";
}
