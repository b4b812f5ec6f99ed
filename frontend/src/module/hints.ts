/** The hints tab: revealed hints in level order and the button that reveals the next level. */
import { ApiError, api } from "../api";
import { fill, h, richText } from "../dom";
import { pick, t } from "../i18n";
import { describeError, toast } from "../page";
import { setTabCount, type Ctx } from "./context";

export function renderHints(ctx: Ctx): void {
  const panel = ctx.panels.hints;
  const revealed = [...ctx.hints.values()].sort((a, b) => a.level - b.level || a.id.localeCompare(b.id));
  const maxLevel = revealed.reduce((m, x) => Math.max(m, x.level), 0);
  const nextLevel = maxLevel + 1;
  const more = ctx.detail.hintLevels === 0 ? maxLevel < 3 : nextLevel <= ctx.detail.hintLevels;
  const button = more
    ? h("button", { type: "button", class: "btn btn-primary btn-sm", "data-testid": "reveal-hint" }, t("hints.reveal", { n: nextLevel }))
    : null;
  button?.addEventListener("click", () => {
    button.disabled = true;
    api
      .revealHint(ctx.detail.slug, nextLevel)
      .then((hints) => {
        for (const hint of hints) ctx.hints.set(hint.id, hint);
        if (hints.length === 0) ctx.detail.hintLevels = maxLevel;
        renderHints(ctx);
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && (err.status === 404 || err.status === 400)) {
          ctx.detail.hintLevels = maxLevel;
          renderHints(ctx);
        } else {
          toast(describeError(err), true);
          button.disabled = false;
        }
      });
  });
  fill(
    panel,
    h("p", { class: "muted" }, t("hints.intro")),
    revealed.map((hint) =>
      h(
        "div",
        { class: "hint-card", "data-hint": hint.id, "data-level": hint.level },
        h("div", { class: "level" }, t("hints.level", { n: hint.level }), hint.step ? ` · ${hint.step}` : ""),
        h("p", {}, richText(pick(hint.text))),
      ),
    ),
    button ?? h("div", { class: "empty" }, t("hints.none")),
  );
  setTabCount("hints", revealed.length);
}
