/**
 * Module page (`/modules/<slug>/`): guide and task on the left, Monaco on the right, results below the editor.
 *
 * Design choices:
 * - Drafts autosave to the server (`PUT .../draft/`, debounced) and to localStorage on every keystroke; the
 *   local copy is marked "synced" once the server has it. On load, an unsynced local copy newer than the server
 *   draft wins and is pushed, so a reload or a crash never loses keystrokes. A `pagehide` flush uses a
 *   keepalive request.
 * - "Run tests" saves first, posts the submission, then listens on the websocket; a slow poll of
 *   `GET /api/submissions/<id>/` runs alongside (events deduplicated by `seq`), so a dropped socket or a missed
 *   early event never leaves the panel stuck.
 * - Unlock detection compares module states before and after a verdict, so it needs no special server field.
 * - Views below are built from decoded data only (api.ts) and Monaco/Plotly only through their adapters.
 * - The Discussion tab is its own view (discussion.ts); the attempts tab asks it which attempt already has a
 *   mentor review, and hands it review requests.
 */
import {
  ApiError,
  api,
  decodeHintReveal,
  decodeModuleDetail,
  decodeNextModule,
  decodeReflectionQuestions,
  decodeSubmissionList,
  type Hint,
  type ModuleDetail,
  type ModuleSummary,
  type ReflectionQuestion,
  type Submission,
} from "./api";
import type { ReferenceDiff } from "./diff";
import { DiscussionView, postForm } from "./discussion";
import { ago, byId, debounce, fill, h, richText } from "./dom";
import type { LabEditor } from "./editor";
import { lang, pick, t, type MessageKey } from "./i18n";
import { boot, describeError, showFatal, toast } from "./page";
import { ResultsView, RunState } from "./results";
import { GradingSocket } from "./ws";

const page = boot();
const root = byId("module-root");

// ------------------------------------------------------------------------------------------------ draft saving

type SaveState = "saved" | "dirty" | "saving" | "error";

interface LocalDraft {
  files: Record<string, string>;
  synced: boolean;
  at: number;
}

class DraftSaver {
  private state: SaveState = "saved";
  private saving = false;
  private again = false;
  private latest: Record<string, string>;
  private readonly key: string;
  private readonly soon: ReturnType<typeof debounce<[]>>;
  private retryTimer: number | null = null;

  constructor(
    private readonly slug: string,
    initial: Record<string, string>,
    private readonly onState: (state: SaveState) => void,
  ) {
    this.key = `lab:draft:${page.context.user ?? "anon"}:${slug}`;
    this.latest = initial;
    this.soon = debounce(() => void this.save(), 800);
    window.addEventListener("pagehide", () => this.flushOnExit());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") this.flushOnExit();
    });
  }

  /** The local copy if it holds keystrokes the server may not have. */
  unsyncedLocal(): Record<string, string> | null {
    try {
      const raw = window.localStorage.getItem(this.key);
      if (!raw) return null;
      const local = JSON.parse(raw) as LocalDraft;
      return local.synced ? null : local.files;
    } catch {
      return null;
    }
  }

  changed(files: Record<string, string>): void {
    this.latest = files;
    this.writeLocal(false);
    this.setState("dirty");
    this.soon();
  }

  /** Save now (before a run); resolves when the server has the latest text. */
  async flush(): Promise<void> {
    this.soon.flush();
    while (this.saving || this.state === "dirty") {
      if (!this.saving) await this.save();
      else await new Promise((r) => window.setTimeout(r, 50));
    }
  }

  private async save(): Promise<void> {
    if (this.saving) {
      this.again = true;
      return;
    }
    this.saving = true;
    this.setState("saving");
    const sent = this.latest;
    try {
      await api.saveDraft(this.slug, sent);
      if (sent === this.latest && !this.again) {
        this.writeLocal(true);
        this.setState("saved");
      }
    } catch {
      this.setState("error");
      if (this.retryTimer === null) {
        this.retryTimer = window.setTimeout(() => {
          this.retryTimer = null;
          void this.save();
        }, 3000);
      }
    } finally {
      this.saving = false;
    }
    if (this.again || (sent !== this.latest && this.state !== "error")) {
      this.again = false;
      await this.save();
    }
  }

  private flushOnExit(): void {
    if (this.state === "saved") return;
    this.writeLocal(false);
    void api.saveDraft(this.slug, this.latest, true);
  }

  private writeLocal(synced: boolean): void {
    try {
      const value: LocalDraft = { files: this.latest, synced, at: Date.now() };
      window.localStorage.setItem(this.key, JSON.stringify(value));
    } catch {
      /* storage full or disabled: the server draft still works */
    }
  }

  private setState(state: SaveState): void {
    if (state === this.state && state !== "error") return;
    this.state = state;
    this.onState(state);
  }
}

// ------------------------------------------------------------------------------------------------ page state

interface Ctx {
  detail: ModuleDetail;
  editor: LabEditor;
  saver: DraftSaver;
  results: ResultsView;
  socket: GradingSocket;
  run: RunState | null;
  submissions: Submission[];
  hints: Map<string, Hint>;
  questions: ReflectionQuestion[];
  answers: Record<string, string>;
  stepChips: HTMLElement;
  stateBadge: HTMLElement;
  nextLink: HTMLAnchorElement;
  runButton: HTMLButtonElement;
  selectTab: (name: TabName) => void;
  panels: Record<TabName, HTMLElement>;
  diff: ReferenceDiff | null;
  pollTimer: number | null;
  onAttempt: () => void;
  discussion: DiscussionView | null;
}

type TabName = "guide" | "hints" | "history" | "reflection" | "discussion";

function slugFromUrl(): string {
  const m = /\/modules\/([^/]+)\/?/.exec(window.location.pathname);
  return m?.[1] ? decodeURIComponent(m[1]) : "";
}

function badge(state: string): HTMLElement {
  return h("span", { class: `badge badge-${state}`, "data-testid": "module-state", "data-state": state }, t(`state.${state}` as MessageKey));
}

// ------------------------------------------------------------------------------------------------ guide tab

function renderGuide(detail: ModuleDetail, panel: HTMLElement): void {
  const guide = h("article", { class: "guide", "data-testid": "guide" });
  // The server renders the guide from Markdown and sanitises it with nh3 before embedding: safe to insert.
  guide.innerHTML = detail.guideHtml;
  fill(
    panel,
    h(
      "div",
      { class: "meta-block" },
      detail.goals.length
        ? h(
            "div",
            {},
            h("h3", {}, t("module.goals")),
            h(
              "ul",
              {},
              detail.goals.map((g) => h("li", {}, pick(g))),
            ),
          )
        : null,
      h(
        "div",
        {},
        h("h3", {}, t("module.prerequisites")),
        detail.prerequisites.length
          ? h(
              "div",
              { class: "prereqs" },
              detail.prerequisites.map((p) => h("a", { class: "badge", href: `/modules/${encodeURIComponent(p)}/` }, p)),
            )
          : h("span", { class: "muted" }, t("module.none")),
      ),
      detail.steps.length
        ? h(
            "div",
            {},
            h("h3", {}, t("module.steps")),
            h(
              "ol",
              {},
              detail.steps.map((s) => h("li", {}, h("code", {}, s.id), " ", pick(s.title))),
            ),
          )
        : null,
    ),
    guide,
  );
}

// ------------------------------------------------------------------------------------------------ hints tab

function renderHints(ctx: Ctx): void {
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

// ------------------------------------------------------------------------------------------------ history tab

function renderHistory(ctx: Ctx): void {
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
        const n = s.number ?? total - i;
        const status = s.result?.status ?? (s.status === "queued" ? "queued" : "running");
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
          h(
            "div",
            { class: "head" },
            h("strong", {}, t("history.attempt", { n })),
            h("span", { class: `badge badge-${status}` }, t(`status.${status}` as MessageKey)),
            s.result && s.result.maxScore > 0 ? h("span", { class: "faint" }, `${s.result.score} / ${s.result.maxScore}`) : null,
            h("span", { class: "when" }, ago(s.createdAt, lang())),
          ),
          h("div", { class: "head", style: "padding-top:0" }, toggle, showResult, load),
          code,
          reviewAction(ctx, s, n),
        );
      }),
    ),
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

async function showAttempt(ctx: Ctx, id: string, scroll = true): Promise<void> {
  const sub = await api.submission(id);
  if (ctx.run !== null && !ctx.run.done()) return; // a live run owns the panel
  const run = new RunState(sub.id);
  for (const e of sub.events) run.apply(e);
  if (sub.result) run.finish(sub.result);
  run.advice = sub.advice;
  ctx.results.empty();
  paintRun(ctx, run);
  if (scroll) ctx.results.root.scrollIntoView({ behavior: "smooth", block: "start" });
}

async function refreshHistory(ctx: Ctx): Promise<void> {
  try {
    ctx.submissions = await api.submissions(ctx.detail.slug);
    renderHistory(ctx);
  } catch (err) {
    toast(describeError(err), true);
  }
}

// ------------------------------------------------------------------------------------------------ reflection tab

function renderReflection(ctx: Ctx, correct: Record<string, boolean> = {}): void {
  const panel = ctx.panels.reflection;
  if (ctx.questions.length === 0) {
    fill(panel, h("div", { class: "empty" }, "—"));
    return;
  }
  const form = h("form", { "data-testid": "reflection-form" });
  for (const q of ctx.questions) {
    const name = `q-${q.id}`;
    const verdict =
      q.id in correct
        ? h(
            "span",
            { class: `badge ${correct[q.id] ? "badge-pass" : "badge-fail"}` },
            correct[q.id] ? t("reflection.correct") : t("reflection.incorrect"),
          )
        : null;
    const body =
      q.kind === "choice"
        ? q.choices.map((c) =>
            h(
              "label",
              { class: "choice" },
              h("input", { type: "radio", name, value: c.id, checked: ctx.answers[q.id] === c.id }),
              h("span", {}, richText(pick(c.text))),
            ),
          )
        : [h("textarea", { name, rows: 4, "data-question": q.id }, ctx.answers[q.id] ?? "")];
    form.append(
      h("div", { class: "question", "data-question": q.id }, h("div", { class: "prompt" }, richText(pick(q.prompt)), " ", verdict), ...body),
    );
  }
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("reflection.submit"));
  const status = h("span", { class: "faint", role: "status", style: "margin-left:10px" });
  form.append(h("div", {}, submit, status));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const answers: Record<string, string> = {};
    for (const q of ctx.questions) {
      const v = data.get(`q-${q.id}`);
      if (typeof v === "string" && v.trim()) answers[q.id] = v.trim();
    }
    if (Object.keys(answers).length < ctx.questions.length) {
      status.textContent = t("reflection.required");
      return;
    }
    submit.disabled = true;
    api
      .reflect(ctx.detail.slug, answers)
      .then((res) => {
        ctx.answers = answers;
        renderReflection(ctx, res.correct);
        const saved = ctx.panels.reflection.querySelector("[role=status]");
        if (saved) saved.textContent = t("reflection.saved");
        if (res.state !== null) setModuleState(ctx, res.state);
        toast(t("reflection.saved"));
      })
      .catch((err: unknown) => {
        toast(describeError(err), true);
        submit.disabled = false;
      });
  });
  fill(panel, h("p", { class: "muted" }, t("reflection.intro")), form);
}

// ------------------------------------------------------------------------------------------------ runs

function setModuleState(ctx: Ctx, state: string): void {
  const fresh = badge(state);
  ctx.stateBadge.replaceWith(fresh);
  ctx.stateBadge = fresh;
}

/** Show "Next: ..." once this module is passed and the next one is open (from a fresh module list). */
function updateNextLink(ctx: Ctx, modules: ModuleSummary[]): void {
  const mine = modules.find((m) => m.slug === ctx.detail.slug);
  const slug = ctx.nextLink.dataset.slug;
  const next = modules.find((m) => m.slug === slug);
  const passed = mine?.state === "passed" || mine?.state === "completed";
  ctx.nextLink.hidden = !(passed && next && next.state !== "locked");
}

function setTabCount(tab: TabName, n: number): void {
  const el = document.querySelector(`[data-tab=${tab}] .count`);
  if (el) el.textContent = n > 0 ? String(n) : "";
}

function renderStepChips(ctx: Ctx, run: RunState | null): void {
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

function paintRun(ctx: Ctx, run: RunState): void {
  ctx.results.render(run);
  renderStepChips(ctx, run);
}

async function startRun(ctx: Ctx): Promise<void> {
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
async function resumeLatest(ctx: Ctx): Promise<void> {
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

// ------------------------------------------------------------------------------------------------ reference diff

async function toggleDiff(ctx: Ctx, button: HTMLButtonElement, editorHost: HTMLElement, diffHost: HTMLElement): Promise<void> {
  if (!diffHost.hidden) {
    diffHost.hidden = true;
    editorHost.hidden = false;
    button.textContent = t("editor.compare");
    button.setAttribute("aria-pressed", "false");
    ctx.editor.focus();
    return;
  }
  let reference: Record<string, string>;
  try {
    reference = await api.reference(ctx.detail.slug);
  } catch (err) {
    toast(err instanceof ApiError && err.status === 403 ? t("diff.locked") : describeError(err), true);
    return;
  }
  const { ReferenceDiff } = await import("./diff");
  ctx.diff ??= new ReferenceDiff(diffHost, ctx.detail.steps);
  editorHost.hidden = true;
  diffHost.hidden = false;
  ctx.diff.setFiles(reference, ctx.editor.files());
  button.textContent = t("editor.back_to_code");
  button.setAttribute("aria-pressed", "true");
}

// ------------------------------------------------------------------------------------------------ layout

async function loadDetail(slug: string): Promise<ModuleDetail> {
  const pd = page.data;
  if (pd.module !== undefined && Array.isArray(pd.files)) return decodeModuleDetail(pd);
  return api.module(slug);
}

async function mount(): Promise<void> {
  const slug =
    (typeof page.data.module === "object" && page.data.module && "slug" in page.data.module ? String(page.data.module.slug) : "") || slugFromUrl();
  let detail: ModuleDetail;
  try {
    detail = await loadDetail(slug);
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) {
      fill(root, h("main", { class: "page" }, h("div", { class: "notice notice-warn", "data-testid": "locked" }, t("module.locked"))));
      return;
    }
    showFatal(root, err, () => void mount());
    return;
  }
  if (detail.state === "locked") {
    fill(root, h("main", { class: "page" }, h("div", { class: "notice notice-warn", "data-testid": "locked" }, t("module.locked"))));
    return;
  }

  // ---- header
  const stateBadge = badge(detail.state);
  const stepChips = h("div", { class: "steps", "data-testid": "steps" });
  const next = decodeNextModule(page.data.next_module);
  const nextLink = h(
    "a",
    {
      class: "btn btn-primary btn-sm next-link",
      href: next?.url ?? null,
      "data-slug": next?.slug ?? null,
      "data-testid": "next-module",
      hidden: true,
    },
    next ? t("module.next", { title: pick(next.title) }) : "",
  );
  const header = h(
    "header",
    { class: "module-header" },
    h("span", { class: "order" }, String(detail.order).padStart(2, "0")),
    h("h1", { "data-testid": "module-title" }, pick(detail.title)),
    stateBadge,
    nextLink,
    stepChips,
  );

  // ---- left: tabs
  const tabNames: TabName[] = ["guide", "hints", "history", "reflection", "discussion"];
  const tabLabels: Record<TabName, MessageKey> = {
    guide: "module.guide",
    hints: "module.hints",
    history: "module.history",
    reflection: "module.reflection",
    discussion: "discussion.tab",
  };
  const panels = Object.fromEntries(
    tabNames.map((n) => [
      n,
      h("div", { class: "tab-panel", role: "tabpanel", id: `panel-${n}`, "data-testid": `panel-${n}`, hidden: n !== "guide" }),
    ]),
  ) as unknown as Record<TabName, HTMLElement>;
  const tabButtons = tabNames.map((n) =>
    h(
      "button",
      { type: "button", class: "tab", role: "tab", "aria-selected": String(n === "guide"), "aria-controls": `panel-${n}`, "data-tab": n },
      t(tabLabels[n]),
      n === "hints" || n === "history" || n === "discussion" ? h("span", { class: "count" }) : null,
    ),
  );
  const selectTab = (name: TabName): void => {
    tabNames.forEach((n, i) => {
      panels[n].hidden = n !== name;
      tabButtons[i]?.setAttribute("aria-selected", String(n === name));
    });
  };
  tabButtons.forEach((b, i) => b.addEventListener("click", () => selectTab(tabNames[i] as TabName)));
  const left = h("section", { class: "pane pane-left" }, h("nav", { class: "tabs", role: "tablist" }, tabButtons), ...tabNames.map((n) => panels[n]));

  // ---- right: editor + results
  const saveState = h("span", { class: "save-state", "data-state": "saved", "data-testid": "save-state", role: "status" }, t("editor.saved"));
  const lintState = h("span", { class: "lint-state", "data-testid": "lint-state" });
  const runButton = h("button", { type: "button", class: "btn btn-run", "data-testid": "run" }, `▶ ${t("editor.run")}`);
  const formatButton = h("button", { type: "button", class: "btn btn-sm", "data-testid": "format" }, t("editor.format"));
  const resetButton = h("button", { type: "button", class: "btn btn-ghost btn-sm" }, t("editor.reset"));
  const compareButton = h("button", { type: "button", class: "btn btn-sm", "data-testid": "compare", "aria-pressed": "false" }, t("editor.compare"));
  const toolbar = h(
    "div",
    { class: "editor-toolbar" },
    runButton,
    formatButton,
    compareButton,
    resetButton,
    h("span", { class: "spacer" }),
    lintState,
    saveState,
  );
  const editorHost = h("div", { class: "editor-host" });
  const diffHost = h("div", { class: "editor-host", hidden: true });
  const resultsRoot = h("section", { class: "results", "data-testid": "results", "aria-live": "polite" });
  const right = h("section", { class: "pane pane-right" }, h("div", { class: "editor-card" }, toolbar, editorHost, diffHost), resultsRoot);

  fill(root, header, h("div", { class: "workspace" }, left, right));
  renderGuide(detail, panels.guide);

  // ---- files: server draft, else starter; an unsynced local copy wins
  const serverFiles: Record<string, string> = {};
  for (const f of detail.files) serverFiles[f.path] = f.draft ?? f.starter;
  const saveLabels: Record<SaveState, MessageKey> = {
    saved: "editor.saved",
    dirty: "editor.unsaved",
    saving: "editor.saving",
    error: "editor.save_failed",
  };
  const saver = new DraftSaver(detail.slug, serverFiles, (state) => {
    saveState.dataset.state = state;
    saveState.textContent = t(saveLabels[state]);
  });
  const local = saver.unsyncedLocal();
  const initial = { ...serverFiles };
  let restored = false;
  if (local) {
    for (const path of Object.keys(initial)) {
      const text = local[path];
      if (typeof text === "string" && text !== initial[path]) {
        initial[path] = text;
        restored = true;
      }
    }
  }

  const { LabEditor, colorizeCodeBlocks, lintSummary } = await import("./editor");
  const lintCounts = new Map<string, number>();
  const editor = new LabEditor(editorHost, initial, {
    onChange: (files) => saver.changed(files),
    onLint: (path, diagnostics) => {
      lintCounts.set(path, diagnostics.length);
      const total = [...lintCounts.values()].reduce((a, b) => a + b, 0);
      lintState.textContent = lintSummary(total);
    },
  });
  if (restored) saver.changed(editor.files());
  void colorizeCodeBlocks(panels.guide);

  // ---- page data: hints, reflection, history
  const pd = page.data;
  const hints = new Map<string, Hint>();
  // `hints` is {revealed: [...], levels: [int]} (a bare list of revealed hints is accepted too)
  const hintData = typeof pd.hints === "object" && pd.hints !== null ? (pd.hints as Record<string, unknown>) : {};
  const revealed = Array.isArray(pd.hints) ? pd.hints : hintData.revealed;
  if (Array.isArray(revealed)) for (const hint of decodeHintReveal({ hints: revealed })) hints.set(hint.id, hint);
  const levels = hintData.levels ?? pd.hint_levels;
  if (levels !== undefined) detail.hintLevels = decodeModuleDetail({ slug: detail.slug, hint_levels: levels }).hintLevels;
  const reflection = typeof pd.reflection === "object" && pd.reflection !== null ? (pd.reflection as Record<string, unknown>) : {};
  const questions = decodeReflectionQuestions(reflection.questions ?? pd.reflection_questions ?? pd.questions ?? []);
  const answersRaw = reflection.answers ?? pd.reflection_answers;
  const answers: Record<string, string> = {};
  if (answersRaw && typeof answersRaw === "object") {
    for (const [k, v] of Object.entries(answersRaw)) if (typeof v === "string") answers[k] = v;
  }

  const socket = new GradingSocket(typeof pd.ws_url === "string" ? pd.ws_url : undefined);
  // the reference opens after the first attempt: the button says so until then
  const setCompareAvailable = (available: boolean): void => {
    compareButton.disabled = !available;
    compareButton.title = available ? "" : t("diff.locked");
  };
  setCompareAvailable(pd.reference_available !== false);
  const ctx: Ctx = {
    detail,
    editor,
    saver,
    results: new ResultsView(resultsRoot, { onHint: () => selectTab("hints") }),
    socket,
    run: null,
    submissions: Array.isArray(pd.attempts) ? decodeSubmissionList(pd.attempts) : [],
    hints,
    questions,
    answers,
    stepChips,
    stateBadge,
    nextLink,
    runButton,
    selectTab,
    panels,
    diff: null,
    pollTimer: null,
    onAttempt: () => setCompareAvailable(true),
    discussion: null,
  };
  const discussion = new DiscussionView(panels.discussion, {
    slug: detail.slug,
    isInstructor: page.context.isInstructor,
    show: () => selectTab("discussion"),
    onChange: () => {
      setTabCount("discussion", discussion.openCount());
      renderHistory(ctx);
    },
  });
  ctx.discussion = discussion;
  if (detail.state === "passed" || detail.state === "completed") {
    api
      .modules()
      .then((modules) => updateNextLink(ctx, modules))
      .catch(() => undefined);
  }
  renderStepChips(ctx, null);
  renderHints(ctx);
  renderReflection(ctx);
  if (Array.isArray(pd.attempts)) renderHistory(ctx);
  else await refreshHistory(ctx);

  socket.onFrame((frame) => {
    if (frame.type !== "grading.event" || !ctx.run || frame.submissionId !== ctx.run.submissionId) return;
    const run = ctx.run;
    if (run.apply(frame.event)) paintRun(ctx, run);
    if (frame.event.type === "verdict") run.onDone?.();
  });
  socket.onStatus((status) => {
    const running = ctx.run !== null && !ctx.run.done();
    ctx.results.notice("socket", status === "closed" && running ? h("div", { class: "notice notice-warn" }, t("results.connection_lost")) : null);
  });
  socket.start();

  runButton.addEventListener("click", () => void startRun(ctx));
  formatButton.addEventListener("click", () => {
    ctx.editor.format().catch((err: unknown) => toast(t("editor.format_failed", { message: describeError(err) }), true));
  });
  resetButton.addEventListener("click", () => {
    const path = ctx.editor.activePath();
    const starter = detail.files.find((f) => f.path === path)?.starter;
    if (starter !== undefined && window.confirm(t("editor.reset_confirm", { path }))) ctx.editor.setFiles({ [path]: starter });
  });
  compareButton.addEventListener("click", () => void toggleDiff(ctx, compareButton, editorHost, diffHost));
  // Ctrl/Cmd+Enter runs the tests; Ctrl/Cmd+S saves now (instead of the browser's "save page")
  editor.addShortcut("run", () => {
    if (!runButton.disabled) void startRun(ctx);
  });
  editor.addShortcut("save", () => void ctx.saver.flush());
  window.addEventListener("keydown", (ev) => {
    if (!(ev.ctrlKey || ev.metaKey)) return;
    if (ev.key === "Enter" && !runButton.disabled) {
      ev.preventDefault();
      void startRun(ctx);
    } else if (ev.key === "s") {
      ev.preventDefault();
      void ctx.saver.flush();
    }
  });
  discussion.load().catch((err: unknown) => toast(describeError(err), true));
  document.body.dataset.ready = "1";
  resumeLatest(ctx).catch((err: unknown) => toast(describeError(err), true));
}

void mount();
