/** Painting a run: the results panel and the step chips in the header, from one `RunState`. */
import { fill, h } from "../dom";
import { pick, t } from "../i18n";
import type { RunState } from "../results";
import type { Ctx } from "./context";
import { attemptNumber } from "./history";

/**
 * One chip per step, titled (the step's number and name, never its id), after a label that says which attempt
 * the ✓/✗ marks come from: the attempt shown in the results panel, which may be an older one the learner opened.
 */
export function renderStepChips(ctx: Ctx, run: RunState | null): void {
  const status = run?.stepStatus() ?? new Map<string, "pass" | "fail">();
  const n = run && run.submissionId ? attemptNumber(ctx.submissions, run.submissionId) : null;
  const label = run === null || run.submissionId === "" ? t("steps.not_run") : n !== null ? t("steps.attempt", { n }) : t("steps.this_run");
  fill(
    ctx.stepChips,
    h("span", { class: "steps-label", "data-testid": "steps-label" }, label),
    ctx.detail.steps.map((s, i) => {
      const st = status.get(s.id);
      const mark = st === "pass" ? "✓" : st === "fail" ? "✗" : String(i + 1);
      const title = pick(s.title);
      return h(
        "span",
        {
          class: `step-chip${st ? ` is-${st}` : ""}`,
          title: `${t("module.step_label", { n: i + 1, title })}${st ? ` — ${t(st === "pass" ? "steps.passed" : "steps.failed")}` : ""}`,
          "data-step": s.id,
          "data-status": st ?? "none",
        },
        h("span", { class: "step-mark", "aria-hidden": "true" }, mark),
        h("span", { class: "step-title" }, title),
      );
    }),
  );
}

/** The results panel, the step chips, and "Run tests", which may replace a run only while it waits. */
export function paintRun(ctx: Ctx, run: RunState): void {
  ctx.results.render(run);
  renderStepChips(ctx, run);
  if (ctx.follower.run !== run) return;
  const waiting = run.phase === "queued" && !run.done();
  ctx.runButton.disabled = !waiting;
  ctx.runButton.textContent = waiting ? `▶ ${t("editor.run")}` : t("editor.running");
}
