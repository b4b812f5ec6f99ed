/**
 * The hints tab: one group per step (titled, never by its id), each with its revealed hints in level order and a
 * button that reveals that step's next level only; hints written for the whole module form their own group.
 */
import { ApiError, api, type Hint } from "../api";
import { fill, h, richText } from "../dom";
import { pick, t } from "../i18n";
import { describeError, toast } from "../page";
import { setTabCount, stepLabel, type Ctx } from "./context";

/** The step ids that have hints, in the module's step order, then "" (whole-module hints) if any. */
function hintGroups(ctx: Ctx): string[] {
  const known = Object.keys(ctx.detail.hintSteps);
  const fromHints = [...ctx.hints.values()].map((x) => x.step ?? "");
  const present = new Set([...known, ...fromHints]);
  if (present.size === 0) present.add(""); // levels unknown: one group for the module, as the server allows
  const ordered = ctx.detail.steps.map((s) => s.id).filter((id) => present.has(id));
  return [...ordered, ...[...present].filter((id) => !ordered.includes(id))];
}

/** Which hints belong to group `step` ("" holds hints without a step). */
function inGroup(hint: Hint, step: string): boolean {
  return (hint.step ?? "") === step;
}

/** Open the hints tab at `step`'s group (from a failing test's hint link). */
export function showStepHints(ctx: Ctx, step: string | null): void {
  ctx.selectTab("hints");
  const group = ctx.panels.hints.querySelector<HTMLElement>(`[data-hint-step="${CSS.escape(step ?? "")}"]`);
  group?.scrollIntoView({ block: "start" });
}

export function renderHints(ctx: Ctx): void {
  const groups = hintGroups(ctx).map((step) => hintGroup(ctx, step));
  fill(ctx.panels.hints, h("p", { class: "muted" }, t("hints.intro")), groups);
  setTabCount("hints", ctx.hints.size);
}

function hintGroup(ctx: Ctx, step: string): HTMLElement {
  const revealed = [...ctx.hints.values()].filter((x) => inGroup(x, step)).sort((a, b) => a.level - b.level || a.id.localeCompare(b.id));
  const maxLevel = revealed.reduce((m, x) => Math.max(m, x.level), 0);
  const levels = ctx.detail.hintSteps[step];
  const nextLevel = levels ? levels.find((l) => l > maxLevel) : maxLevel < 3 ? maxLevel + 1 : undefined;
  const button =
    nextLevel !== undefined
      ? h(
          "button",
          { type: "button", class: "btn btn-primary btn-sm", "data-testid": "reveal-hint", "data-step": step },
          t("hints.reveal", { n: nextLevel }),
        )
      : null;
  button?.addEventListener("click", () => {
    if (nextLevel === undefined) return;
    button.disabled = true;
    api
      .revealHint(ctx.detail.slug, nextLevel, step || null)
      .then((hints) => {
        for (const hint of hints) ctx.hints.set(hint.id, hint);
        if (hints.length === 0) ctx.detail.hintSteps[step] = (levels ?? []).filter((l) => l <= maxLevel);
        renderHints(ctx);
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && (err.status === 404 || err.status === 400)) {
          ctx.detail.hintSteps[step] = (levels ?? []).filter((l) => l <= maxLevel);
          renderHints(ctx);
        } else {
          toast(describeError(err), true);
          button.disabled = false;
        }
      });
  });
  return h(
    "section",
    { class: "hint-group", "data-hint-step": step },
    h("h3", { class: "hint-step" }, stepLabel(ctx.detail, step || null)),
    revealed.map((hint) =>
      h(
        "div",
        { class: "hint-card", "data-hint": hint.id, "data-level": hint.level },
        h("div", { class: "level" }, t("hints.level", { n: hint.level })),
        h("p", {}, richText(pick(hint.text))),
      ),
    ),
    button ?? h("div", { class: "empty" }, revealed.length ? t("hints.none_step") : t("hints.none")),
  );
}
