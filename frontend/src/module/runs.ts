/**
 * Runs: "Run tests" saves, posts the submission and follows it to its verdict; on load, the latest attempt is
 * shown or, still being graded, followed.
 *
 * Design choices:
 * - A run is followed over the websocket; a slow poll of `GET /api/submissions/<id>/` runs alongside (events
 *   deduplicated by `seq`), so a dropped socket or a missed early event never leaves the panel stuck.
 * - Unlock detection compares module states before and after a verdict, so it needs no special server field.
 */
import { api, type ModuleSummary } from "../api";
import { h } from "../dom";
import { pick, t } from "../i18n";
import { describeError, toast } from "../page";
import { RunState } from "../results";
import { setModuleState, type Ctx } from "./context";
import { refreshHistory, showAttempt } from "./history";
import { paintRun } from "./paint";

/** Show "Next: ..." once this module is passed and the next one is open (from a fresh module list). */
export function updateNextLink(ctx: Ctx, modules: ModuleSummary[]): void {
  const mine = modules.find((m) => m.slug === ctx.detail.slug);
  const slug = ctx.nextLink.dataset.slug;
  const next = modules.find((m) => m.slug === slug);
  const passed = mine?.state === "passed" || mine?.state === "completed";
  ctx.nextLink.hidden = !(passed && next && next.state !== "locked");
}

export async function startRun(ctx: Ctx): Promise<void> {
  ctx.runButton.disabled = true;
  ctx.runButton.textContent = t("editor.running");
  ctx.run = null;
  ctx.results.pending();
  try {
    await ctx.saver.flush();
    const before = await api.modules().catch(() => []);
    const { id } = await api.submit(ctx.detail.slug, ctx.editor.files());
    await follow(ctx, id, before, true);
  } catch (err) {
    toast(describeError(err), true);
  } finally {
    ctx.runButton.disabled = false;
    ctx.runButton.textContent = `▶ ${t("editor.run")}`;
  }
}

/** Watch submission `id` to its verdict: websocket events, a catch-up poll, then history and unlocks. */
async function follow(ctx: Ctx, id: string, before: ModuleSummary[], scroll: boolean): Promise<void> {
  const run = new RunState(id);
  ctx.run = run;
  ctx.socket.subscribe(id);
  paintRun(ctx, run);
  if (scroll) ctx.results.root.scrollIntoView({ behavior: "smooth", block: "nearest" });
  await pollUntilDone(ctx, run);
  if (ctx.run === run) await afterVerdict(ctx, run, before);
}

/** On load: show the latest attempt's result, or resume following it when it is still being graded. */
export async function resumeLatest(ctx: Ctx): Promise<void> {
  const latest = [...ctx.submissions].sort((a, b) => Number(b.id) - Number(a.id))[0];
  if (!latest) return;
  if (latest.status === "queued" || latest.status === "running") {
    ctx.runButton.disabled = true;
    try {
      await follow(ctx, latest.id, await api.modules().catch(() => []), false);
    } finally {
      ctx.runButton.disabled = false;
    }
  } else {
    await showAttempt(ctx, latest.id, false);
  }
}

/** Poll the stored events (catch-up for anything the socket missed) until the verdict is in. */
function pollUntilDone(ctx: Ctx, run: RunState): Promise<void> {
  return new Promise((resolve) => {
    let delay = 1500;
    const tick = async (): Promise<void> => {
      if (ctx.run !== run) return resolve();
      try {
        const sub = await api.submission(run.submissionId);
        let changed = false;
        for (const e of sub.events) changed = run.apply(e) || changed;
        if (sub.result && !run.done()) {
          run.finish(sub.result);
          changed = true;
        }
        run.advice = sub.advice;
        if (changed || run.done()) paintRun(ctx, run);
      } catch {
        /* transient; try again */
      }
      if (run.done()) return resolve();
      delay = Math.min(4000, delay * 1.3);
      ctx.pollTimer = window.setTimeout(() => void tick(), delay);
    };
    const onVerdict = (): void => {
      // the socket delivered the verdict: do one last read for the advice, then finish
      if (ctx.pollTimer !== null) window.clearTimeout(ctx.pollTimer);
      void tick();
    };
    run.onDone = onVerdict;
    ctx.pollTimer = window.setTimeout(() => void tick(), delay);
  });
}

async function afterVerdict(ctx: Ctx, run: RunState, before: ModuleSummary[]): Promise<void> {
  paintRun(ctx, run);
  ctx.onAttempt();
  await refreshHistory(ctx);
  try {
    const after = await api.modules();
    const mine = after.find((m) => m.slug === ctx.detail.slug);
    if (mine) setModuleState(ctx, mine.state);
    updateNextLink(ctx, after);
    const wasLocked = new Set(before.filter((m) => m.state === "locked").map((m) => m.slug));
    const opened = after.filter((m) => wasLocked.has(m.slug) && m.state !== "locked");
    for (const m of opened) {
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
  } catch {
    /* the unlock notice is a nicety */
  }
}

/** Socket frames of the followed submission go into its run; a drop while it runs shows a notice. */
export function listen(ctx: Ctx): void {
  ctx.socket.onFrame((frame) => {
    if (frame.type !== "grading.event" || !ctx.run || frame.submissionId !== ctx.run.submissionId) return;
    const run = ctx.run;
    if (run.apply(frame.event)) paintRun(ctx, run);
    if (frame.event.type === "verdict") run.onDone?.();
  });
  ctx.socket.onStatus((status) => {
    const running = ctx.run !== null && !ctx.run.done();
    ctx.results.notice("socket", status === "closed" && running ? h("div", { class: "notice notice-warn" }, t("results.connection_lost")) : null);
  });
}
