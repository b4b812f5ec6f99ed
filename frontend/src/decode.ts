/**
 * Decoders: every payload the server sends (HTTP JSON, websocket frames, the embedded `page-data`) becomes a
 * typed domain value here; views never call `JSON.parse` or index raw objects.
 *
 * Design choices:
 * - The shapes are the JSON Schemas in `labplatform/schemas/` (the contract the server's tests check too).
 *   `npm run gen` turns them into wire types and Ajv standalone validators (`src/gen/`); a decoder validates
 *   with the generated function, then maps wire → domain (camelCase, defaults the views rely on). Nothing is
 *   checked by hand, so a field is described once.
 * - A payload that breaks the contract raises `DecodeError` with the path of the first wrong field, which the
 *   page shows instead of rendering half a screen. The schemas allow extra fields, so the server may add some.
 * - Texts arrive localised (strings), except in websocket verdicts, which are language-neutral `{en, zh}`;
 *   both are `Localized` and views call `pick` at render time.
 */
import type {
  GradingResult,
  WireGuidePlot,
  TestResult as WireTestResult,
  WireAssembleReply,
  WireAssembleRun,
  WireAttempt,
  WireBadge,
  WireEngineEvent,
  WireModuleDetail,
  WireModulePage,
  WireModuleSummary,
  WireMilestones,
  WireNote,
  WireNotifications,
  WirePost,
  WireQueueInfo,
  WireSubmissionDetail,
  WireThread,
  WireThreadDetail,
  WireVerdictEvent,
  WireSurvey,
} from "./gen/wire";
import type { Validator } from "./gen/validators";
import * as validate from "./gen/validators";
import type { Localized } from "./i18n";

// ---------------------------------------------------------------------------------------------- decoding kit

export class DecodeError extends Error {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = "DecodeError";
  }
}

/** `value` as `T` when `check` accepts it; otherwise a DecodeError naming the first wrong field under `what`. */
export function decodeWith<T>(check: Validator<T>, value: unknown, what: string): T {
  if (check(value)) return value;
  const error = check.errors?.[0];
  const path = (error?.instancePath ?? "")
    .split("/")
    .slice(1)
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part.replace(/~1/g, "/").replace(/~0/g, "~")}`))
    .join("");
  throw new DecodeError(`${what}${path}`, error?.message ?? "does not match the contract");
}

// ---------------------------------------------------------------------------------------------- domain types

export type ModuleState = "locked" | "unlocked" | "passed" | "completed";

export interface ModuleSummary {
  slug: string;
  order: number;
  title: Localized;
  summary: Localized;
  state: ModuleState;
  prerequisites: string[];
  url: string;
  bestScore: number | null;
  maxScore: number | null;
  attempts: number;
  reflectionDone: boolean;
  lastStatus: "pass" | "fail" | "error" | null;
  lastAt: string | null;
  lastScore: number | null;
  lastMaxScore: number | null;
}

export interface Step {
  id: string;
  title: Localized;
}

export interface ModuleFile {
  path: string;
  starter: string;
  draft: string | null;
}

export interface ModuleDetail {
  slug: string;
  order: number;
  title: Localized;
  summary: Localized;
  state: ModuleState;
  prerequisites: string[];
  guideHtml: string;
  goals: Localized[];
  steps: Step[];
  files: ModuleFile[];
  limits: Record<string, number | boolean | string | null>;
  /** The highest hint level the module has; 0 when unknown (the page then offers levels up to 3). */
  hintLevels: number;
  /** The hint levels of each step ("": hints for the whole module); empty when unknown. */
  hintSteps: Record<string, number[]>;
}

export interface NextModule {
  slug: string;
  title: Localized;
  url: string;
}

export type TestStatus = "pass" | "fail" | "error" | "skip";

export interface TestResult {
  id: string;
  name: string;
  step: string | null;
  status: TestStatus;
  message: string;
  output: string;
  durationSeconds: number;
  visibility: "visible" | "hidden";
  hint: string | null;
}

/** A charted series with real x values (steps, merges, tokens ...) and its title and x label from the module. */
export interface MetricSeries {
  y: number[];
  x: number[] | null;
  title: Localized | null;
  xLabel: Localized | null;
}

export type MetricValue = number | number[] | MetricSeries;

type WireMetricValue = number | number[] | { y: number[]; x?: number[]; title?: Localized; x_label?: Localized };

function metricValue(v: WireMetricValue): MetricValue {
  if (typeof v === "number" || Array.isArray(v)) return v;
  return { y: v.y, x: v.x ?? null, title: v.title ?? null, xLabel: v.x_label ?? null };
}

function metricValues(m: Record<string, WireMetricValue>): Record<string, MetricValue> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, metricValue(v)]));
}

export interface GradeResult {
  status: "pass" | "fail" | "error";
  outcome: string;
  fault: "learner" | "platform" | null;
  message: string;
  score: number;
  maxScore: number;
  tests: TestResult[];
  metrics: Record<string, MetricValue>;
  usage: { wallSeconds: number | null; cpuSeconds: number | null; maxRssBytes: number | null };
  module: string;
}

export interface Advice {
  id: string;
  text: Localized;
}

export type EngineEvent =
  | { type: "phase"; seq: number; t: number; phase: string; count: number | null }
  | { type: "test_started"; seq: number; t: number; id: string; name: string; step: string | null; visibility: "visible" | "hidden" }
  | { type: "output"; seq: number; t: number; stream: "stdout" | "stderr"; testId: string | null; data: string }
  | { type: "test_finished"; seq: number; t: number; test: TestResult }
  | { type: "metric"; seq: number; t: number; name: string; value: MetricValue }
  | { type: "verdict"; seq: number; t: number; result: GradeResult; verdict: Verdict };

/** A module named in a verdict (texts in both languages). */
export interface ModuleLink {
  slug: string;
  title: Localized;
  url: string;
}

/** What a verdict event carries besides the result: everything the module page updates after a run. */
export interface Verdict {
  advice: Advice[];
  /** The attempt as the attempts tab lists it. */
  attempt: Submission;
  progress: { state: ModuleState; attempts: number; bestScore: number; maxScore: number; passedAt: string | null };
  /** Modules this verdict opened. */
  unlocked: ModuleLink[];
  /** The next module in course order, with the learner's state on it. */
  next: (ModuleLink & { state: ModuleState }) | null;
}

export type Lane = "short" | "long" | "gpu";

/** Why a queued run waits: its place in its lane, as the server's scheduler takes runs (round-robin). */
export interface QueueInfo {
  lane: Lane;
  /** 1 + the runs that start before it. */
  position: number;
  /** Other learners with a run before it. */
  learnersAhead: number;
  /** The learner has an earlier run going or waiting before it in this lane. */
  waitingForOwn: boolean;
  /** The learner is at the cap: their next run of this module replaces this one. */
  nextRunReplaces: boolean;
  /** Runs per learner queued or running in a lane. */
  cap: number;
}

export interface Submission {
  id: string;
  module: string;
  status: string; // queued | running | done | superseded (display only)
  createdAt: string | null;
  files: Record<string, string>;
  result: GradeResult | null;
  events: EngineEvent[];
  advice: Advice[];
  /** While it waits: why. */
  queue: QueueInfo | null;
  /** The newer run that replaced it while it waited. */
  supersededBy: string | null;
}

export interface Hint {
  id: string;
  level: number;
  step: string | null;
  text: Localized;
}

export interface ReflectionQuestion {
  id: string;
  kind: "text" | "choice";
  prompt: Localized;
  choices: { id: string; text: Localized }[];
}

/** `POST reflection/` answers `{answers, correct: {qid: bool}, state, unlocked}`. */
export interface ReflectionAnswer {
  correct: Record<string, boolean>;
  state: ModuleState;
  /** Modules this reflection opened (it completed a passed module). */
  unlocked: ModuleLink[];
}

/** One step of the reference gate: open once its tests pass (or after `needed` versions of its code). */
export interface ReferenceStep {
  open: boolean;
  why: "passed" | "effort" | "instructor" | null;
  versions: number;
  needed: number;
}

/** `GET reference/`: the reference with closed steps cut, and the gate of each step. */
export interface Reference {
  files: Record<string, string>;
  steps: Record<string, ReferenceStep>;
}

export interface Note {
  id: string;
  text: string;
  module: string | null;
  moduleTitle: Localized | null;
  createdAt: string | null;
}

export interface ReviewItem {
  slug: string;
  title: Localized;
  reason: "last_attempt_failed" | "reflection_pending";
}

/** A milestone (`modules/badges.py`): texts already localised by the server. */
export interface Award {
  id: string;
  title: string;
  description: string;
  earned: boolean;
  earnedAt: string | null;
  count: number;
  target: number;
}

export interface LintDiagnostic {
  line: number; // 1-based
  column: number; // 1-based
  endLine: number;
  endColumn: number;
  code: string;
  message: string;
  severity: "error" | "warning";
}

export type ThreadKind = "question" | "review";

export interface ThreadSummary {
  id: string;
  module: string;
  moduleTitle: string;
  kind: ThreadKind;
  title: string;
  status: "open" | "resolved";
  author: string;
  submission: string | null;
  postCount: number;
  mentorAnswered: boolean;
  createdAt: string | null;
  updatedAt: string | null;
  url: string;
  pinned: boolean;
  locked: boolean;
  acceptedPost: string | null;
}

export interface ThreadPost {
  id: string;
  author: string;
  isMentor: boolean;
  /** Markdown rendered and sanitised by the server (nh3): the one kind of post text the page inserts as HTML. */
  bodyHtml: string;
  createdAt: string | null;
  hidden: boolean;
  canEdit: boolean;
  /** The Markdown the author wrote, sent only while they may edit it (set as a textarea's value, never as HTML). */
  source: string | null;
}

export interface ThreadDetail extends ThreadSummary {
  posts: ThreadPost[];
  canReply: boolean;
  canResolve: boolean;
  canModerate: boolean;
  /** Mentors, on a review: its page (the attempt against the reference, the rubric and verdict). */
  reviewUrl: string | null;
}

// ---------------------------------------------------------------------------------------------- modules

function moduleSummary(m: WireModuleSummary): ModuleSummary {
  const last = m.latest_result;
  return {
    slug: m.slug,
    order: m.order,
    title: m.title,
    summary: m.summary,
    state: m.state,
    prerequisites: m.prerequisites,
    url: m.url,
    bestScore: m.progress.best_score,
    maxScore: m.progress.max_score,
    attempts: m.progress.attempts,
    reflectionDone: m.state === "completed",
    lastStatus: last?.status ?? null,
    lastAt: last?.at ?? null,
    lastScore: last?.score ?? null,
    lastMaxScore: last?.max_score ?? null,
  };
}

/** `GET /api/modules/` → the modules in course order. */
export function decodeModuleList(v: unknown): ModuleSummary[] {
  return decodeWith(validate.validateModuleList, v, "modules")
    .modules.map(moduleSummary)
    .sort((a, b) => a.order - b.order);
}

function moduleDetail(d: WireModuleDetail, hintLevels: number[] = [], hintSteps: Record<string, number[]> = {}): ModuleDetail {
  const m = d.module;
  return {
    slug: m.slug,
    order: m.order,
    title: m.title,
    summary: m.summary,
    state: m.state,
    prerequisites: m.prerequisites,
    guideHtml: d.guide_html,
    goals: m.goals,
    steps: d.steps,
    files: d.files.map((f) => ({ path: f.path, starter: f.starter, draft: f.draft })),
    limits: m.limits,
    hintLevels: Math.max(0, ...hintLevels),
    hintSteps,
  };
}

// ---------------------------------------------------------------------------------------------- results and events

function testResult(t: WireTestResult): TestResult {
  return {
    id: t.id,
    name: t.name,
    step: t.step,
    status: t.status,
    message: t.message,
    output: t.output,
    durationSeconds: t.duration_seconds,
    visibility: t.visibility,
    hint: t.hint,
  };
}

function gradeResult(r: GradingResult): GradeResult {
  return {
    status: r.status,
    outcome: r.outcome,
    fault: r.fault,
    message: r.message,
    score: r.score,
    maxScore: r.max_score,
    tests: r.tests.map(testResult),
    metrics: metricValues(r.metrics),
    usage: { wallSeconds: r.usage.wall_seconds, cpuSeconds: r.usage.cpu_seconds, maxRssBytes: r.usage.max_rss_bytes },
    module: r.module,
  };
}

function engineEvent(e: WireEngineEvent): EngineEvent {
  switch (e.type) {
    case "phase":
      return { type: "phase", seq: e.seq, t: e.t, phase: e.phase, count: e.count ?? null };
    case "test_started":
      return { type: "test_started", seq: e.seq, t: e.t, id: e.id, name: e.name, step: e.step, visibility: e.visibility };
    case "output":
      return { type: "output", seq: e.seq, t: e.t, stream: e.stream, testId: e.test_id, data: e.data };
    case "test_finished":
      return { type: "test_finished", seq: e.seq, t: e.t, test: testResult(e.test) };
    case "metric":
      // the schema lets through exactly one of the two
      return { type: "metric", seq: e.seq, t: e.t, name: e.name, value: metricValue(e.series ?? e.value ?? 0) };
    case "verdict":
      return { type: "verdict", seq: e.seq, t: e.t ?? 0, result: gradeResult(e.result), verdict: verdict(e) };
  }
}

function verdict(e: WireVerdictEvent): Verdict {
  const p = e.progress;
  return {
    advice: e.advice.map((a) => ({ id: a.id, text: a.advice })),
    attempt: attempt(e.attempt),
    progress: { state: p.state, attempts: p.attempts, bestScore: p.best_score, maxScore: p.max_score, passedAt: p.passed_at },
    unlocked: e.unlocked,
    next: e.next_module,
  };
}

const EVENT_TYPES: readonly string[] = ["phase", "test_started", "output", "test_finished", "metric", "verdict"];

/** One engine event; null for an event type this page does not know (a newer server may send more kinds). */
export function decodeEvent(v: unknown, what = "event"): EngineEvent | null {
  const type = typeof v === "object" && v !== null ? (v as { type?: unknown }).type : undefined;
  if (typeof type === "string" && !EVENT_TYPES.includes(type)) return null;
  return engineEvent(decodeWith(validate.validateEngineEvent, v, what));
}

function queueInfo(q: WireQueueInfo | null): QueueInfo | null {
  if (q === null) return null;
  return {
    lane: q.lane,
    position: q.position,
    learnersAhead: q.learners_ahead,
    waitingForOwn: q.waiting_for_own,
    nextRunReplaces: q.next_run_replaces,
    cap: q.cap,
  };
}

const idOrNull = (id: number | null): string | null => (id === null ? null : String(id));

function attempt(a: WireAttempt): Submission {
  const r = a.result;
  return {
    id: String(a.id),
    module: "",
    status: a.status,
    createdAt: a.created_at,
    files: {},
    // a list item carries the result's summary only: enough for the attempts tab
    result: r
      ? {
          status: r.status,
          outcome: r.outcome,
          fault: null,
          message: "",
          score: r.score,
          maxScore: r.max_score,
          tests: [],
          metrics: {},
          usage: NO_USAGE,
          module: "",
        }
      : null,
    events: [],
    advice: [],
    queue: null,
    supersededBy: idOrNull(a.superseded_by),
  };
}

const NO_USAGE = { wallSeconds: null, cpuSeconds: null, maxRssBytes: null };

/** `GET /api/modules/<slug>/submissions/` → the attempts, newest first (no files, results summarised). */
export function decodeSubmissionList(v: unknown): Submission[] {
  return decodeWith(validate.validateSubmissionList, v, "submissions").submissions.map(attempt);
}

function submission(s: WireSubmissionDetail): Submission {
  return {
    id: String(s.id),
    module: s.module,
    status: s.status,
    createdAt: s.created_at,
    files: s.files,
    result: s.result ? gradeResult(s.result) : null,
    events: s.events.flatMap((e) => (EVENT_TYPES.includes(e.type) ? [engineEvent(e)] : [])),
    advice: s.advice.map((a) => ({ id: a.id, text: a.advice })),
    queue: queueInfo(s.queue),
    supersededBy: idOrNull(s.superseded_by),
  };
}

/** `GET /api/submissions/<id>/` → files, result, advice and the stored events of the latest run. */
export function decodeSubmission(v: unknown): Submission {
  return submission(decodeWith(validate.validateSubmissionDetail, v, "submission"));
}

/** `POST /api/modules/<slug>/submissions/` → the new submission's id. */
export function decodeSubmissionCreated(v: unknown): { id: string; status: string } {
  const created = decodeWith(validate.validateSubmissionCreated, v, "submission");
  return { id: String(created.id), status: created.status };
}

// ---------------------------------------------------------------------------------------------- websocket frames

/** An assemble run as the API gives it (`assemble.schema.json#/$defs/run`). */
export type AssembleRun = WireAssembleRun;
/** Both models' replies to one prompt (`assemble.schema.json#/$defs/reply`). */
export type AssembleReply = WireAssembleReply;

export function decodeAssembleRun(v: unknown): AssembleRun {
  return decodeWith(validate.validateAssembleRun, v, "assemble run");
}

export function decodeAssembleReply(v: unknown): AssembleReply {
  return decodeWith(validate.validateAssembleReply, v, "assemble reply");
}

/** What an assemble run reports: its status, progress (fraction done, pipeline step), a loss point, its end; for a
 * reply, one side's text so far (`reply`) and `reply_end` once both answers are saved. */
export interface AssembleEvent {
  type: "status" | "progress" | "metric" | "end" | "reply" | "reply_end";
  reply_id?: number;
  side?: "mine" | "reference";
  text?: string;
  status?: string;
  stage?: string;
  fraction?: number;
  series?: string;
  x?: number;
  y?: number;
  message?: string;
}

export type ServerFrame =
  | { type: "grading.event"; submissionId: string; event: EngineEvent }
  /** Where a run stands in its lane: pushed while it waits, and once when a newer run supersedes it. */
  | { type: "grading.queue"; submissionId: string; status: string; queue: QueueInfo | null; supersededBy: string | null }
  | { type: "subscribed"; submissionId: string; status: string }
  /** An event of one of the learner's assemble runs (the assemble page). */
  | { type: "assemble.event"; runId: string; stage: string; event: AssembleEvent }
  | { type: "error"; message: string }
  | { type: "pong" }
  /** A frame that breaks the contract (or an event of an unknown type): ignored, but said so. */
  | { type: "invalid"; submissionId: string | null; message: string };

function frameSubmission(v: unknown): string | null {
  const id = typeof v === "object" && v !== null ? (v as { submission_id?: unknown }).submission_id : undefined;
  return typeof id === "number" ? String(id) : null;
}

/** One text frame of the grading websocket; never throws (a socket listener is no place for an exception). */
export function decodeFrame(raw: string): ServerFrame {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return { type: "invalid", submissionId: null, message: "frame: not JSON" };
  }
  try {
    if (frameSubmission(v) !== null && (v as { type?: unknown }).type === "grading.event") {
      const event = decodeEvent((v as { event?: unknown }).event, "frame.event");
      if (event === null) return { type: "invalid", submissionId: frameSubmission(v), message: "frame.event: unknown event type" };
    }
    const frame = decodeWith(validate.validateServerFrame, v, "frame");
    switch (frame.type) {
      case "grading.event":
        return { type: "grading.event", submissionId: String(frame.submission_id), event: engineEvent(frame.event) };
      case "grading.queue":
        return {
          type: "grading.queue",
          submissionId: String(frame.submission_id),
          status: frame.status,
          queue: queueInfo(frame.queue),
          supersededBy: idOrNull(frame.superseded_by),
        };
      case "subscribed":
        return { type: "subscribed", submissionId: String(frame.submission_id), status: frame.status };
      case "assemble.event":
        return { type: "assemble.event", runId: String(frame.run_id), stage: frame.stage, event: frame.event };
      case "error":
        return { type: "error", message: frame.message };
      case "pong":
        return { type: "pong" };
    }
  } catch (err) {
    return { type: "invalid", submissionId: frameSubmission(v), message: err instanceof Error ? err.message : String(err) };
  }
}

// ---------------------------------------------------------------------------------------------- page data

export interface ModulePage {
  detail: ModuleDetail;
  next: NextModule | null;
  hints: Hint[];
  questions: ReflectionQuestion[];
  answers: Record<string, string>;
  attempts: Submission[];
  referenceAvailable: boolean;
  /** Set when the learner's pass matches the reference closely: they are asked to explain their approach. */
  selfCheck: { score: number; submission: string } | null;
  /** The per-call time limit (seconds) of a call into learner code; null when the page does not say. */
  callSeconds: number | null;
  wsUrl: string;
  editorPrefs: EditorPrefs;
}

/** What the editor opens with (the learner's settings; these defaults when the page carries none). */
export interface EditorPrefs {
  fontSize: number;
  tabSize: number;
  minimap: boolean;
}

/** The module page's page data (`page-module.schema.json`). */
export function decodeModulePage(v: unknown): ModulePage {
  const pd: WireModulePage = decodeWith(validate.validateModulePage, v, "page");
  return {
    detail: moduleDetail(pd, pd.hints.levels, pd.hints.steps ?? {}),
    next: pd.next_module,
    hints: pd.hints.revealed,
    questions: pd.reflection.questions,
    answers: pd.reflection.answers ?? {},
    attempts: pd.attempts.map(attempt),
    referenceAvailable: pd.reference_available,
    selfCheck: pd.self_check ? { score: pd.self_check.score, submission: String(pd.self_check.submission) } : null,
    callSeconds: pd.call_seconds ?? null,
    wsUrl: pd.ws_url,
    editorPrefs: pd.editor
      ? { fontSize: pd.editor.font_size, tabSize: pd.editor.tab_size, minimap: pd.editor.minimap }
      : { fontSize: 14, tabSize: 4, minimap: false },
  };
}

export interface DashboardPage {
  /** This week's report, certificates and the milestone endpoints (absent where milestones is not installed). */
  milestones: Milestones | null;
  modules: ModuleSummary[];
  notes: Note[];
  review: ReviewItem[];
  awards: Award[];
  /** The oldest open review requests (instructors; empty for learners). */
  mentorQueue: ThreadSummary[];
}

function award(b: WireBadge): Award {
  return { id: b.id, title: b.title, description: b.description, earned: b.earned, earnedAt: b.earned_at, count: b.count, target: b.target };
}

/** `GET /api/badges/` → the learner's badges, earned or not. */
export function decodeBadges(v: unknown): Award[] {
  return decodeWith(validate.validateBadgeList, v, "badges").badges.map(award);
}

/** The dashboard's page data (`page-dashboard.schema.json`). */
export function decodeDashboardPage(v: unknown): DashboardPage {
  const pd = decodeWith(validate.validateDashboardPage, v, "page");
  return {
    milestones: pd.milestones ? milestones(pd.milestones) : null,
    modules: pd.modules.map(moduleSummary).sort((a, b) => a.order - b.order),
    notes: pd.notes.map(note),
    review: pd.review,
    awards: pd.badges.map(award),
    mentorQueue: pd.mentor_queue.map(thread),
  };
}

// ---------------------------------------------------------------------------------------------- smaller answers

/** `POST hints/reveal/` → every hint revealed so far. */
export function decodeHintReveal(v: unknown): Hint[] {
  return decodeWith(validate.validateHintReveal, v, "hints").hints;
}

export function decodeReflectionAnswer(v: unknown): ReflectionAnswer {
  const answer = decodeWith(validate.validateReflectionAnswer, v, "reflection");
  return { correct: answer.correct, state: answer.state, unlocked: answer.unlocked };
}

function note(n: WireNote): Note {
  return { id: String(n.id), text: n.text, module: n.module, moduleTitle: n.module_title, createdAt: n.created_at };
}

export function decodeNote(v: unknown): Note {
  return note(decodeWith(validate.validateNote, v, "note"));
}

export function decodeNotes(v: unknown): Note[] {
  return decodeWith(validate.validateNoteList, v, "notes").notes.map(note);
}

/** Lint answers: ruff's diagnostics in our shape; a diagnostic without a code is a syntax error. */
export function decodeLint(v: unknown): LintDiagnostic[] {
  return decodeWith(validate.validateLint, v, "lint").diagnostics.map((d) => {
    const code = d.code ?? "";
    return {
      line: d.line,
      column: d.column,
      endLine: d.end_line,
      endColumn: d.end_column,
      code,
      message: d.message,
      severity: d.severity === "error" || code === "" || code.startsWith("E9") ? "error" : "warning",
    };
  });
}

export function decodeFormat(v: unknown): string {
  return decodeWith(validate.validateFormat, v, "format").text;
}

/** The admin's guide preview: sanitised HTML and the problems the content sync would report. */
export function decodeGuidePreview(v: unknown): { html: string; problems: string[] } {
  const r = decodeWith(validate.validateGuidePreview, v, "guide preview");
  return { html: r.html, problems: r.problems };
}

/** The files of a draft or of the reference (`{files: {path: text}}`). */
export function decodeReference(v: unknown): Reference {
  const r = decodeWith(validate.validateReference, v, "reference");
  return { files: r.files, steps: r.steps };
}

// ---------------------------------------------------------------------------------------------- discussions

function thread(t: WireThread): ThreadSummary {
  return {
    id: String(t.id),
    module: t.module,
    moduleTitle: t.module_title,
    kind: t.kind,
    title: t.title,
    status: t.status,
    author: t.author,
    submission: t.submission === null ? null : String(t.submission),
    postCount: t.post_count,
    mentorAnswered: t.mentor_answered,
    createdAt: t.created_at,
    updatedAt: t.updated_at,
    url: t.url,
    pinned: t.pinned ?? false,
    locked: t.locked ?? false,
    acceptedPost: t.accepted_post === null || t.accepted_post === undefined ? null : String(t.accepted_post),
  };
}

function post(p: WirePost): ThreadPost {
  return {
    id: String(p.id),
    author: p.author,
    isMentor: p.is_mentor,
    bodyHtml: p.body_html,
    createdAt: p.created_at,
    hidden: p.hidden ?? false,
    canEdit: p.can_edit ?? false,
    source: p.body ?? null,
  };
}

export function decodeThreadPost(v: unknown): ThreadPost {
  return post(decodeWith(validate.validatePost, v, "post"));
}

export function decodeThreadDetail(v: unknown): ThreadDetail {
  const t: WireThreadDetail = decodeWith(validate.validateThreadDetail, v, "thread");
  return {
    ...thread(t),
    posts: t.posts.map(post),
    canReply: t.can_reply,
    canResolve: t.can_resolve,
    canModerate: t.can_moderate ?? false,
    reviewUrl: t.review_url ?? null,
  };
}

/** `{"threads": [...]}`: a module's threads. */
export function decodeThreadList(v: unknown): ThreadSummary[] {
  return decodeWith(validate.validateThreadList, v, "threads").threads.map(thread);
}

/** `{"reviews": [...]}`: the mentors' queue. */
export function decodeReviewQueue(v: unknown): ThreadSummary[] {
  return decodeWith(validate.validateReviewQueue, v, "reviews").reviews.map(thread);
}

// ---------------------------------------------------------------------------------------------- guide figures

/** A chart a guide shows (`guide-plot.schema.json`): line series, generated from the reference code. */
export type GuidePlot = WireGuidePlot;

/** The `data-plot` text of a guide's `div.guide-plot` (server-rendered, see modules/handouts.py). */
export function decodeGuidePlot(text: string): GuidePlot {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new DecodeError("plot", "not JSON");
  }
  return decodeWith(validate.validateGuidePlot, v, "plot");
}

// ---------------------------------------------------------------------------------------------- milestones

export interface NotificationItem {
  id: number;
  kind: WireNotifications["items"][number]["kind"];
  title: string;
  url: string;
  createdAt: string;
  read: boolean;
}

export interface Notifications {
  unread: number;
  items: NotificationItem[];
}

/** `GET /api/notifications/` (and the answer of `POST read/`). */
export function decodeNotifications(v: unknown): Notifications {
  const n = decodeWith(validate.validateNotifications, v, "notifications");
  return {
    unread: n.unread,
    items: n.items.map((i) => ({ id: i.id, kind: i.kind, title: i.title, url: i.url, createdAt: i.created_at, read: i.read })),
  };
}

/** `POST /api/activity/heartbeat/` → seconds studied today. */
export function decodeHeartbeat(v: unknown): number {
  return decodeWith(validate.validateHeartbeat, v, "heartbeat").today_seconds;
}

export interface WeeklyReport {
  weekStart: string;
  modulesPassed: { slug: string; title: string }[];
  modulesCompleted: number;
  attempts: number;
  studySeconds: number;
  daysStudied: number;
  streakDays: number;
  totalStudySeconds: number;
}

export interface Certificate {
  code: string;
  scope: string;
  title: string;
  issuedAt: string;
  url: string;
}

export interface Milestones {
  weekly: WeeklyReport;
  certificates: Certificate[];
  urls: { weeklyReport: string; learningLog: string; noteUpload: string };
}

function milestones(m: WireMilestones): Milestones {
  const w = m.weekly;
  return {
    weekly: {
      weekStart: w.week_start,
      modulesPassed: w.modules_passed,
      modulesCompleted: w.modules_completed,
      attempts: w.attempts,
      studySeconds: w.study_seconds,
      daysStudied: w.days_studied,
      streakDays: w.streak_days,
      totalStudySeconds: w.total_study_seconds,
    },
    certificates: m.certificates.map((c) => ({ code: c.code, scope: c.scope, title: c.title, issuedAt: c.issued_at, url: c.url })),
    urls: { weeklyReport: m.urls.weekly_report, learningLog: m.urls.learning_log, noteUpload: m.urls.note_upload },
  };
}

/** The dashboard's `milestones` key on its own (`milestones.schema.json#/$defs/milestones`). */
export function decodeMilestones(v: unknown): Milestones {
  return milestones(decodeWith(validate.validateMilestones, v, "milestones"));
}

// ---------------------------------------------------------------------------------------------- my measurements

/** One module on "My measurements": the learner's chosen attempt, its metrics and the reference's plots. */
export interface ModuleMeasurements {
  slug: string;
  order: number;
  title: string;
  url: string | null;
  attempt: { submissionId: number; passed: boolean; score: number; maxScore: number; at: string };
  metrics: Record<string, MetricValue>;
  /** Plot specs (`guide-plot.schema.json`, as text) the module's guides show, computed from its reference. */
  reference: { key: string; plot: string }[];
}

/** A module whose tests record measurements (the empty state links there). */
export interface MeasurementProducer {
  slug: string;
  order: number;
  title: string;
  url: string | null;
  state: ModuleState;
}

export interface MeasurementsPage {
  modules: ModuleMeasurements[];
  producers: MeasurementProducer[];
}

export function decodeMeasurementsPage(v: unknown): MeasurementsPage {
  const pd = decodeWith(validate.validateMeasurementsPage, v, "page");
  return {
    modules: pd.modules.map((m) => ({
      slug: m.slug,
      order: m.order,
      title: m.title,
      url: m.url,
      attempt: {
        submissionId: m.attempt.submission_id,
        passed: m.attempt.passed,
        score: m.attempt.score,
        maxScore: m.attempt.max_score,
        at: m.attempt.at,
      },
      metrics: metricValues(m.metrics),
      reference: m.reference.map((r) => ({ key: r.key, plot: r.plot })),
    })),
    producers: pd.producers.map((p) => ({ slug: p.slug, order: p.order, title: p.title, url: p.url, state: p.state })),
  };
}

/** `GET|POST /api/modules/<slug>/survey/`: the micro-survey prompt that is due (if any), its questions in the page
 * language and the learner's stored answers. */
export type Survey = WireSurvey;
export type SurveyStage = "start" | "after";

export function decodeSurvey(v: unknown): Survey {
  return decodeWith(validate.validateSurvey, v, "survey");
}
