/**
 * Runs: "Run tests" saves, posts the submission and follows it to its verdict; on load, the latest attempt is
 * shown or, still being graded, followed.
 *
 * Design choices:
 * - A run costs the draft save (when there is unsaved text), the submission POST and the socket: the events
 *   stream over the websocket and the verdict frame says everything the page updates afterwards — the advice,
 *   the attempt for the attempts tab, the module's state, the next module and the modules it opened
 *   (follow.ts polls only when the socket cannot deliver).
 * - A run finished by polling carries no such news: the page then re-reads the attempts and the module list.
 * - "Run tests" stays usable while the followed run is still queued: running again sends the current code, and
 *   when the learner is at the per-lane cap the server replaces the waiting run with it (the banner says so).
 *   A run superseded elsewhere (another tab) hands the page over to the run that replaced it. A new run joins the
 *   attempts tab at once (queued), and one of the learner's runs that a newer one replaced is marked there as soon
 *   as the socket says so; the tab is read again after a verdict while other runs of the page were still open.
 */
import { api, type ModuleSummary, type Submission, type Verdict } from "../api";
import type { ModuleLink } from "../decode";
import { h } from "../dom";
import { pick, t } from "../i18n";
import { describeError, toast } from "../page";
import { setModuleState, type Ctx } from "./context";
import { refreshHistory, renderHistory, showAttempt } from "./history";
import { paintRun } from "./paint";
import { showSurvey } from "./survey";
import { STANDING_EVENT } from "../notifications";

/** Show "Next: ..." once this module is passed and the next one is open (from a fresh module list). */
export function updateNextLink(ctx: Ctx, modules: ModuleSummary[]): void {
  const mine = modules.find((m) => m.slug === ctx.detail.slug);
  const next = modules.find((m) => m.slug === ctx.nextLink.dataset.slug);
  showNextLink(ctx, mine?.state, next?.state);
}

function showNextLink(ctx: Ctx, mine: string | undefined, next: string | undefined): void {
  const passed = mine === "passed" || mine === "completed";
  ctx.nextLink.hidden = !(passed && next !== undefined && next !== "locked");
}

export async function startRun(ctx: Ctx): Promise<void> {
  ctx.runButton.disabled = true;
  ctx.runButton.textContent = t("editor.running");
  ctx.results.pending();
  try {
    await ctx.saver.flush();
    const files = ctx.editor.files();
    const { id, status } = await api.submit(ctx.detail.slug, files);
    upsertAttempt(ctx, { ...NEW_ATTEMPT, id, status, module: ctx.detail.slug, createdAt: new Date().toISOString(), files });
    renderHistory(ctx);
    await follow(ctx, id, true);
  } catch (err) {
    toast(describeError(err), true);
  } finally {
    ctx.runButton.disabled = false;
    ctx.runButton.textContent = `▶ ${t("editor.run")}`;
  }
}

/** Watch submission `id` to its verdict, then update the page from what the verdict says. */
async function follow(ctx: Ctx, id: string, scroll: boolean): Promise<void> {
  const followed = ctx.follower.follow(id);
  const run = ctx.follower.run;
  if (run) paintRun(ctx, run);
  if (scroll) ctx.results.root.scrollIntoView({ behavior: "smooth", block: "nearest" });
  const { run: done, verdict } = await followed;
  paintRun(ctx, done);
  ctx.results.notice("socket", null);
  ctx.onAttempt();
  const othersOpen = ctx.submissions.some((s) => s.id !== id && (s.status === "queued" || s.status === "running"));
  if (verdict) applyVerdict(ctx, verdict);
  if (!verdict || othersOpen) await reread(ctx);
  if (done.supersededBy !== null && ctx.follower.run === null) await follow(ctx, done.supersededBy, false);
}

/** History, state badge, next link and unlock notices, from the verdict frame alone. */
function applyVerdict(ctx: Ctx, verdict: Verdict): void {
  upsertAttempt(ctx, verdict.attempt);
  renderHistory(ctx);
  setModuleState(ctx, verdict.progress.state);
  if (verdict.next && verdict.next.slug === ctx.nextLink.dataset.slug) showNextLink(ctx, verdict.progress.state, verdict.next.state);
  showUnlocks(ctx, verdict.unlocked);
  if (verdict.progress.state === "passed" && ctx.questions.length > 0) askReflection(ctx);
  if (verdict.progress.state === "passed" || verdict.progress.state === "completed") void showSurvey(ctx);
}

/** One notice per module a verdict or a reflection opened, with a link to it; the bell rereads its list. */
export function showUnlocks(ctx: Ctx, unlocked: ModuleLink[]): void {
  document.dispatchEvent(new Event(STANDING_EVENT));
  for (const m of unlocked) {
    ctx.results.notice(
      `unlock-${m.slug}`,
      h(
        "div",
        { class: "unlock-notice", "data-testid": "unlock-notice", "data-module": m.slug },
        h("span", { class: "unlock-icon", "aria-hidden": "true" }, "↗"),
        h("span", {}, t("results.unlocked", { title: pick(m.title) })),
        h("a", { class: "btn btn-primary btn-sm", href: m.url }, t("results.open_next")),
      ),
    );
  }
}

/** Passed, reflection missing: the module completes (and its dependants open) once the reflection is in, so ask
 * for it right where the learner reads the verdict, and open the reflection tab beside it. */
function askReflection(ctx: Ctx): void {
  const open = h("button", { type: "button", class: "btn btn-primary btn-sm", "data-testid": "reflection-prompt-open" }, t("results.reflect_now"));
  open.addEventListener("click", () => {
    ctx.selectTab("reflection");
    ctx.panels.reflection.scrollIntoView({ behavior: "smooth", block: "nearest" });
  });
  ctx.results.notice(
    "reflection-pending",
    h(
      "div",
      { class: "unlock-notice", "data-testid": "reflection-prompt" },
      h("span", { class: "unlock-icon", "aria-hidden": "true" }, "✎"),
      h("span", {}, t("results.reflect_to_unlock")),
      open,
    ),
  );
  ctx.selectTab("reflection");
}

const NEW_ATTEMPT: Submission = {
  id: "",
  module: "",
  status: "queued",
  createdAt: null,
  files: {},
  result: null,
  events: [],
  advice: [],
  queue: null,
  supersededBy: null,
};

function upsertAttempt(ctx: Ctx, attempt: Submission): void {
  const known = ctx.submissions.findIndex((s) => s.id === attempt.id);
  if (known >= 0) ctx.submissions[known] = { ...attempt, files: ctx.submissions[known]?.files ?? {} };
  else ctx.submissions.unshift(attempt);
}

/** A run finished without its verdict frame: read the attempts and the module's state again. */
async function reread(ctx: Ctx): Promise<void> {
  await refreshHistory(ctx);
  try {
    const modules = await api.modules();
    const mine = modules.find((m) => m.slug === ctx.detail.slug);
    if (mine) setModuleState(ctx, mine.state);
    updateNextLink(ctx, modules);
  } catch {
    /* the badge and the next link are niceties */
  }
}

/** On load: show the latest attempt's result, or resume following it when it is still being graded. */
export async function resumeLatest(ctx: Ctx): Promise<void> {
  const latest = [...ctx.submissions].sort((a, b) => Number(b.id) - Number(a.id))[0];
  if (!latest) return;
  if (latest.status === "queued" || latest.status === "running") {
    ctx.runButton.disabled = true;
    try {
      await follow(ctx, latest.id, false);
    } finally {
      ctx.runButton.disabled = false;
    }
  } else {
    await showAttempt(ctx, latest.id, false);
  }
}

/** A drop while a run is being followed shows a notice until the socket is back; a run of the attempts tab that
 * a newer one replaced is marked as such when the socket says so. */
export function listen(ctx: Ctx): void {
  ctx.socket.onFrame((frame) => {
    if (frame.type !== "grading.queue" || frame.status !== "superseded") return;
    const attempt = ctx.submissions.find((s) => s.id === frame.submissionId);
    if (!attempt || attempt.status === "superseded") return;
    attempt.status = "superseded";
    attempt.supersededBy = frame.supersededBy;
    renderHistory(ctx);
  });
  ctx.socket.onStatus((status) => {
    const running = ctx.follower.run !== null && !ctx.follower.run.done();
    ctx.results.notice("socket", status !== "open" && running ? h("div", { class: "notice notice-warn" }, t("results.connection_lost")) : null);
  });
}
