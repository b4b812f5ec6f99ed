/**
 * The attempts tab: every submission of this module, newest first, with its code, its result and (for graded
 * attempts) a mentor-review request or the link to the review already asked for. Attempt n is the n-th
 * submission of the module; a run superseded while it waited keeps its number and says which attempt replaced it.
 */
import { api, type Submission } from "../api";
import { postForm } from "../discussion";
import { ago, fill, h } from "../dom";
import { lang, t, type MessageKey } from "../i18n";
import { describeError, toast } from "../page";
import { RunState } from "../results";
import { setTabCount, type Ctx } from "./context";
import { paintRun } from "./paint";

/** The attempt number of submission `id` among `subs` (its rank by id, oldest first); null when not listed. */
export function attemptNumber(subs: readonly Submission[], id: string): number | null {
  if (!subs.some((s) => s.id === id)) return null;
  return subs.filter((s) => Number(s.id) <= Number(id)).length;
}

export function renderHistory(ctx: Ctx): void {
  const panel = ctx.panels.history;
  const subs = [...ctx.submissions].sort((a, b) => Number(b.id) - Number(a.id) || (b.createdAt ?? "").localeCompare(a.createdAt ?? ""));
  setTabCount("history", subs.length);
  if (subs.length === 0) {
    fill(panel, h("div", { class: "empty" }, t("history.empty")));
    return;
  }
  const total = subs.length;
  fill(
    panel,
    h(
      "div",
      { "data-testid": "history" },
      subs.map((s, i) => {
        const n = total - i;
        const status = s.result?.status ?? (s.status === "queued" || s.status === "superseded" ? s.status : "running");
        const replacedBy = s.supersededBy !== null ? attemptNumber(subs, s.supersededBy) : null;
        const code = h("div", { class: "code", hidden: true });
        const toggle = h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-action": "show-code" }, t("history.view_code"));
        toggle.addEventListener("click", () => {
          void (async () => {
            if (code.hidden && code.childElementCount === 0) {
              const files = await attemptFiles(s);
              fill(
                code,
                Object.entries(files).map(([path, text]) => h("div", {}, h("div", { class: "path" }, path), h("pre", {}, text))),
              );
            }
            code.hidden = !code.hidden;
            toggle.textContent = code.hidden ? t("history.view_code") : t("history.hide_code");
          })().catch((err: unknown) => toast(describeError(err), true));
        });
        const showResult = h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-action": "show-result" }, t("module.results"));
        showResult.addEventListener("click", () => void showAttempt(ctx, s.id));
        const load = h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-action": "load" }, t("history.load"));
        load.addEventListener("click", () => {
          if (!window.confirm(t("history.load_confirm"))) return;
          attemptFiles(s)
            .then((files) => ctx.editor.setFiles(files))
            .catch((err: unknown) => toast(describeError(err), true));
        });
        return h(
          "div",
          { class: "attempt", "data-submission": s.id, "data-status": status },
          attemptHead(s, n, status),
          replacedBy !== null ? supersededNote(replacedBy) : null,
          h("div", { class: "head", style: "padding-top:0" }, toggle, showResult, load),
          code,
          reviewAction(ctx, s, n),
        );
      }),
    ),
  );
}

function supersededNote(n: number): HTMLElement {
  return h("div", { class: "head" }, h("span", { class: "faint", "data-testid": "superseded-by" }, t("history.superseded_by", { n })));
}

function attemptHead(s: Submission, n: number, status: string): HTMLElement {
  return h(
    "div",
    { class: "head" },
    h("strong", {}, t("history.attempt", { n })),
    h("span", { class: `badge badge-${status}` }, t(`status.${status}` as MessageKey)),
    s.result && s.result.maxScore > 0 ? h("span", { class: "faint" }, `${s.result.score} / ${s.result.maxScore}`) : null,
    h("span", { class: "when" }, ago(s.createdAt, lang())),
  );
}

/** "Request mentor review" on a graded attempt, or the link to the review already requested for it. */
function reviewAction(ctx: Ctx, s: Submission, n: number): HTMLElement | null {
  const discussion = ctx.discussion;
  if (discussion === null || s.result === null) return null;
  const existing = discussion.reviewFor(s.id);
  if (existing) {
    const status = t(existing.status === "resolved" ? "discussion.resolved" : "discussion.open");
    const link = h(
      "a",
      {
        href: `#thread-${existing.id}`,
        class: "btn btn-sm review-link",
        "data-testid": "review-link",
        "data-answered": String(existing.mentorAnswered),
      },
      t("review.open", { status }),
      existing.mentorAnswered ? h("span", { class: "badge badge-pass" }, t("discussion.answered")) : null,
    );
    link.addEventListener("click", (ev) => {
      ev.preventDefault();
      void discussion.open(existing.id);
    });
    return h("div", { class: "head review-action" }, link);
  }
  const ask = h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "request-review" }, t("review.request"));
  const { form, body } = postForm({
    name: "review",
    placeholder: t("review.placeholder"),
    label: t("review.send"),
    rows: 3,
    hidden: true,
    send: (text) => discussion.requestReview(s.id, n, text),
  });
  ask.addEventListener("click", () => {
    form.hidden = !form.hidden;
    if (!form.hidden) body.focus();
  });
  return h("div", { class: "review-action" }, h("div", { class: "head" }, ask), form);
}

/** Attempt lists carry no files; fetch them once from the submission detail. */
async function attemptFiles(s: Submission): Promise<Record<string, string>> {
  if (Object.keys(s.files).length === 0) s.files = (await api.submission(s.id)).files;
  return s.files;
}

export async function showAttempt(ctx: Ctx, id: string, scroll = true): Promise<void> {
  const sub = await api.submission(id);
  const live = ctx.follower.run;
  if (live !== null && !live.done()) return; // a live run owns the panel
  const run = new RunState(sub.id);
  for (const e of sub.events) run.apply(e);
  if (sub.result) run.finish(sub.result);
  run.applyQueue(sub.status, sub.queue, sub.supersededBy);
  run.advice = sub.advice;
  ctx.results.empty();
  paintRun(ctx, run);
  if (scroll) ctx.results.root.scrollIntoView({ behavior: "smooth", block: "start" });
}

export async function refreshHistory(ctx: Ctx): Promise<void> {
  try {
    ctx.submissions = await api.submissions(ctx.detail.slug);
    renderHistory(ctx);
  } catch (err) {
    toast(describeError(err), true);
  }
}
