/** Painting a run: the results panel and the step chips in the header, from one `RunState`. */
import { fill, h } from "../dom";
import { pick, t } from "../i18n";
import type { RunState } from "../results";
import type { Ctx } from "./context";

export function renderStepChips(ctx: Ctx, run: RunState | null): void {
  const status = run?.stepStatus() ?? new Map<string, "pass" | "fail">();
  fill(
    ctx.stepChips,
    ctx.detail.steps.map((s) => {
      const st = status.get(s.id);
      return h(
        "span",
        { class: `step-chip${st ? ` is-${st}` : ""}`, title: pick(s.title), "data-step": s.id },
        `${st === "pass" ? "✓ " : st === "fail" ? "✗ " : ""}${s.id}`,
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
