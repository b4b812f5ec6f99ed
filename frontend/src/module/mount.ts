/**
 * Module page (`/modules/<slug>/`): guide and task on the left, Monaco on the right, results below the editor.
 *
 * `mount` builds the frame (layout.ts), opens the editor with the draft (drafts.ts), builds the one `Ctx` the
 * panes share and wires the toolbar, the shortcuts and the socket. Views below are built from decoded data only
 * (api.ts) and Monaco/Plotly only through their adapters. The Discussion tab is its own view (discussion.ts);
 * the attempts tab asks it which attempt already has a mentor review, and hands it review requests.
 */
import { api, decodeModulePage, type ModulePage } from "../api";
import { DiscussionView } from "../discussion";
import type { LabEditor } from "../editor";
import { t, type MessageKey } from "../i18n";
import { describeError, showFatal, toast, type Page } from "../page";
import { ResultsView } from "../results";
import { GradingSocket } from "../ws";
import { toggleDiff } from "./compare";
import { setTabCount, stepLabel, type Ctx } from "./context";
import { DraftSaver, initialFiles, serverFiles, type SaveState } from "./drafts";
import { followGuideAnchor, renderGuide } from "./guide";
import { renderHints, showStepHints } from "./hints";
import { attemptNumber, renderHistory } from "./history";
import { buildLayout, showLocked, type EditorPane, type Layout } from "./layout";
import { Follower } from "./follow";
import { paintRun, renderStepChips } from "./paint";
import { renderReflection } from "./reflection";
import { listen, resumeLatest, startRun, updateNextLink } from "./runs";
import { showSurvey } from "./survey";

const SAVE_LABELS: Record<SaveState, MessageKey> = {
  saved: "editor.saved",
  dirty: "editor.unsaved",
  saving: "editor.saving",
  error: "editor.save_failed",
};

export async function mount(page: Page, root: HTMLElement): Promise<void> {
  const data = loadPage(page, root);
  if (data === null) return;
  const { detail } = data;
  const layout = buildLayout(root, detail, data.next);
  renderGuide(detail, layout.tabs.panels.guide);
  followGuideAnchor(layout.tabs.panels.guide, () => layout.tabs.select("guide"));
  const { editor, saver } = await openEditor(page, data, layout);
  const ctx = buildCtx(page, data, layout, editor, saver);
  if (detail.state === "passed" || detail.state === "completed") {
    api
      .modules()
      .then((modules) => updateNextLink(ctx, modules))
      .catch(() => undefined);
  }
  renderStepChips(ctx, null);
  renderHints(ctx);
  renderReflection(ctx);
  renderHistory(ctx);
  listen(ctx);
  ctx.socket.start();
  wireToolbar(ctx, layout.pane);
  layout.pane.runButton.addEventListener("click", () => layout.phone.select("results"));
  wireShortcuts(ctx);
  ctx.discussion?.load().catch((err: unknown) => toast(describeError(err), true));
  void showSurvey(ctx);
  document.body.dataset.ready = "1";
  resumeLatest(ctx).catch((err: unknown) => toast(describeError(err), true));
}

/** The page data, decoded; null after showing "locked" or the error (with a retry) instead. */
function loadPage(page: Page, root: HTMLElement): ModulePage | null {
  let data: ModulePage;
  try {
    data = decodeModulePage(page.data);
  } catch (err) {
    showFatal(root, err, () => void mount(page, root));
    return null;
  }
  if (data.detail.state === "locked") {
    showLocked(root);
    return null;
  }
  return data;
}

/** Monaco with the files to edit (server draft, else starter; an unsynced local copy wins) and the draft saver. */
async function openEditor(page: Page, data: ModulePage, layout: Layout): Promise<{ editor: LabEditor; saver: DraftSaver }> {
  const { detail } = data;
  const { saveState, lintState, editorHost } = layout.pane;
  const server = serverFiles(detail.files);
  const saver = new DraftSaver(detail.slug, page.context.user, server, (state) => {
    saveState.dataset.state = state;
    saveState.textContent = t(SAVE_LABELS[state]);
  });
  const { files, restored } = initialFiles(server, saver.unsyncedLocal());
  const { LabEditor, colorizeCodeBlocks, lintSummary } = await import("../editor");
  const lintCounts = new Map<string, number>();
  const editor = new LabEditor(editorHost, files, {
    ...data.editorPrefs,
    starters: Object.fromEntries(detail.files.map((f) => [f.path, f.starter])),
    onChange: (changed) => saver.changed(changed),
    onLint: (path, diagnostics) => {
      lintCounts.set(path, diagnostics.length);
      const total = [...lintCounts.values()].reduce((a, b) => a + b, 0);
      lintState.textContent = lintSummary(total);
    },
  });
  if (restored) saver.changed(editor.files());
  void colorizeCodeBlocks(layout.tabs.panels.guide);
  return { editor, saver };
}

function buildCtx(page: Page, data: ModulePage, layout: Layout, editor: LabEditor, saver: DraftSaver): Ctx {
  const { detail } = data;
  const { compareButton } = layout.pane;
  // the reference opens after the first attempt: the button says so until then
  const setCompareAvailable = (available: boolean): void => {
    compareButton.disabled = !available;
    compareButton.title = available ? "" : t("diff.locked");
  };
  setCompareAvailable(data.referenceAvailable);
  const socket = new GradingSocket(data.wsUrl);
  const ctx: Ctx = {
    detail,
    editor,
    saver,
    results: new ResultsView(layout.pane.resultsRoot, {
      onHint: (step) => showStepHints(ctx, step),
      stepLabel: (step) => stepLabel(detail, step),
      callSeconds: data.callSeconds,
      attemptNumber: (id) => attemptNumber(ctx.submissions, id),
    }),
    socket,
    follower: new Follower(
      socket,
      (id) => api.submission(id),
      (run) => paintRun(ctx, run),
    ),
    submissions: data.attempts,
    hints: new Map(data.hints.map((hint) => [hint.id, hint])),
    questions: data.questions,
    answers: data.answers,
    selfCheck: data.selfCheck,
    stepChips: layout.header.stepChips,
    stateBadge: layout.header.stateBadge,
    nextLink: layout.header.nextLink,
    runButton: layout.pane.runButton,
    selectTab: (name) => {
      layout.tabs.select(name);
      layout.phone.select("guide"); // on a phone, the tab is in the guide pane
    },
    panels: layout.tabs.panels,
    diff: null,
    onAttempt: () => setCompareAvailable(true),
    discussion: null,
  };
  const discussion = new DiscussionView(layout.tabs.panels.discussion, {
    slug: detail.slug,
    isInstructor: page.context.isInstructor,
    show: () => layout.tabs.select("discussion"),
    onChange: () => {
      setTabCount("discussion", discussion.openCount());
      renderHistory(ctx);
    },
  });
  ctx.discussion = discussion;
  return ctx;
}

function wireToolbar(ctx: Ctx, pane: EditorPane): void {
  pane.runButton.addEventListener("click", () => void startRun(ctx));
  pane.formatButton.addEventListener("click", () => {
    ctx.editor.format().catch((err: unknown) => toast(t("editor.format_failed", { message: describeError(err) }), true));
  });
  pane.resetButton.addEventListener("click", () => {
    const path = ctx.editor.activePath();
    const starter = ctx.detail.files.find((f) => f.path === path)?.starter;
    if (starter !== undefined && window.confirm(t("editor.reset_confirm", { path }))) ctx.editor.setFiles({ [path]: starter });
  });
  pane.compareButton.addEventListener("click", () => void toggleDiff(ctx, pane.compareButton, pane.editorHost, pane.diffHost));
}

/** Ctrl/Cmd+Enter runs the tests; Ctrl/Cmd+S saves now (instead of the browser's "save page"). */
function wireShortcuts(ctx: Ctx): void {
  ctx.editor.addShortcut("run", () => {
    if (!ctx.runButton.disabled) void startRun(ctx);
  });
  ctx.editor.addShortcut("save", () => void ctx.saver.flush());
  window.addEventListener("keydown", (ev) => {
    if (!(ev.ctrlKey || ev.metaKey)) return;
    if (ev.key === "Enter" && !ctx.runButton.disabled) {
      ev.preventDefault();
      void startRun(ctx);
    } else if (ev.key === "s") {
      ev.preventDefault();
      void ctx.saver.flush();
    }
  });
}
