/**
 * The one place that talks to the server and decodes what comes back.
 *
 * Design choices:
 * - Every payload (HTTP JSON, websocket frames, the embedded `page-data`) passes through a decoder here that
 *   checks its shape and returns typed values; views never call `JSON.parse` or index raw objects.
 * - Decoders are strict about what the UI relies on (ids, statuses, test lists) and lenient about extras, so the
 *   server can add fields without breaking the page. A required field that is missing raises `DecodeError`
 *   with a path, which the page shows instead of rendering half a screen.
 * - Localised content may arrive as `{en, zh}` or as a string (the server may localise already); both decode to
 *   `Localized` and views call `pick` at render time.
 * - Writes send Django's CSRF token (cookie `csrftoken`, or the value the template embedded) and same-origin
 *   session cookies, as the DRF session authentication expects.
 */
import type { Localized } from "./i18n";

// ---------------------------------------------------------------------------------------------- decoding kit

export class DecodeError extends Error {
  constructor(path: string, expected: string, got: unknown) {
    super(`${path}: expected ${expected}, got ${got === null ? "null" : typeof got}`);
    this.name = "DecodeError";
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function obj(v: unknown, path: string): Obj {
  if (!isObj(v)) throw new DecodeError(path, "object", v);
  return v;
}
function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new DecodeError(path, "array", v);
  return v;
}
function str(v: unknown, path: string): string {
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  throw new DecodeError(path, "string", v);
}
function optStr(v: unknown): string | null {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : null;
}
function numOr(v: unknown, fallback: number): number {
  return typeof v === "number" && Number.isFinite(v) ? v : fallback;
}
function optNum(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}
function bool(v: unknown): boolean {
  return v === true;
}
function oneOf<T extends string>(v: unknown, allowed: readonly T[], fallback: T): T {
  return typeof v === "string" && (allowed as readonly string[]).includes(v) ? (v as T) : fallback;
}
function localized(v: unknown): Localized {
  if (typeof v === "string") return v;
  if (isObj(v)) {
    const out: { en?: string; zh?: string } = {};
    if (typeof v.en === "string") out.en = v.en;
    const zh = v.zh ?? v["zh-hans"];
    if (typeof zh === "string") out.zh = zh;
    return out;
  }
  return "";
}
function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}
function localizedList(v: unknown): Localized[] {
  // goals arrive either as [{en, zh}...], [str...] or {en: [...], zh: [...]}
  if (Array.isArray(v)) return v.map(localized);
  if (isObj(v)) {
    const en = strList(v.en);
    const zh = strList(v.zh ?? v["zh-hans"]);
    const n = Math.max(en.length, zh.length);
    return Array.from({ length: n }, (_, i) => ({ en: en[i] ?? zh[i] ?? "", zh: zh[i] ?? en[i] ?? "" }));
  }
  return [];
}
function fileMap(v: unknown, path: string): Record<string, string> {
  const o = obj(v, path);
  const out: Record<string, string> = {};
  for (const [k, text] of Object.entries(o)) out[k] = str(text, `${path}.${k}`);
  return out;
}

// ---------------------------------------------------------------------------------------------- domain types

export type ModuleState = "locked" | "unlocked" | "passed" | "completed";
const MODULE_STATES = ["locked", "unlocked", "passed", "completed"] as const;

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

export interface ModuleDetail extends ModuleSummary {
  guideHtml: string;
  goals: Localized[];
  steps: Step[];
  files: ModuleFile[];
  limits: Record<string, number | boolean>;
  hintLevels: number;
}

export type TestStatus = "pass" | "fail" | "error" | "skip";
const TEST_STATUSES = ["pass", "fail", "error", "skip"] as const;

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

export type MetricValue = number | number[];

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

export type EngineEvent =
  | { type: "phase"; seq: number; t: number; phase: string; count: number | null }
  | {
      type: "test_started";
      seq: number;
      t: number;
      id: string;
      name: string;
      step: string | null;
      visibility: "visible" | "hidden";
    }
  | { type: "output"; seq: number; t: number; stream: "stdout" | "stderr"; testId: string | null; data: string }
  | { type: "test_finished"; seq: number; t: number; test: TestResult }
  | { type: "metric"; seq: number; t: number; name: string; value: MetricValue }
  | { type: "verdict"; seq: number; t: number; result: GradeResult };

export interface Advice {
  id: string;
  text: Localized;
  testId: string | null;
}

export interface Submission {
  id: string;
  module: string;
  status: string; // queued | running | done | failed ... (display only)
  createdAt: string | null;
  files: Record<string, string>;
  result: GradeResult | null;
  events: EngineEvent[];
  advice: Advice[];
  number: number | null;
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
  reason: "last_attempt_failed" | "reflection_pending" | "other";
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

// ---------------------------------------------------------------------------------------------- decoders

function moduleUrl(slug: string): string {
  return `/modules/${encodeURIComponent(slug)}/`;
}

export function decodeModuleSummary(v: unknown, path = "module"): ModuleSummary {
  const o = obj(v, path);
  const slug = str(o.slug, `${path}.slug`);
  const progress = isObj(o.progress) ? o.progress : {};
  const lastResult = isObj(o.latest_result) ? o.latest_result : isObj(o.last_result) ? o.last_result : null;
  const last = o.last_status ?? lastResult?.status ?? null;
  return {
    slug,
    order: numOr(o.order, 0),
    title: localized(o.title),
    summary: localized(o.summary),
    state: oneOf(o.state, MODULE_STATES, "locked"),
    prerequisites: strList(o.prerequisites),
    url: optStr(o.url) ?? moduleUrl(slug),
    bestScore: optNum(progress.best_score ?? o.best_score),
    maxScore: optNum(progress.max_score ?? o.max_score),
    attempts: numOr(progress.attempts ?? o.attempts, 0),
    reflectionDone: o.state === "completed" || bool(o.reflection_done),
    lastStatus: last === "pass" || last === "fail" || last === "error" ? last : null,
    lastAt: optStr(lastResult?.at),
    lastScore: optNum(lastResult?.score),
    lastMaxScore: optNum(lastResult?.max_score),
  };
}

/** The module page's `next_module` ({slug, title, url} | null). */
export function decodeNextModule(v: unknown): { slug: string; title: Localized; url: string } | null {
  if (!isObj(v) || typeof v.slug !== "string") return null;
  return { slug: v.slug, title: localized(v.title), url: optStr(v.url) ?? moduleUrl(v.slug) };
}

/** `GET /api/modules/<slug>/` answers `{module: {...}, guide_html, steps, files}`; a flat object works too. */
export function decodeModuleDetail(v: unknown, path = "module"): ModuleDetail {
  const outer = obj(v, path);
  const o: Obj = isObj(outer.module) ? { ...outer.module, ...outer, module: undefined } : outer;
  const files = arr(o.files ?? [], `${path}.files`).map((f, i) => {
    const fo = obj(f, `${path}.files[${i}]`);
    return {
      path: str(fo.path, `${path}.files[${i}].path`),
      starter: optStr(fo.starter ?? fo.starter_text ?? fo.text) ?? "",
      draft: optStr(fo.draft),
    };
  });
  const limits: Record<string, number | boolean> = {};
  if (isObj(o.limits)) {
    for (const [k, lv] of Object.entries(o.limits)) {
      if (typeof lv === "number" || typeof lv === "boolean") limits[k] = lv;
    }
  }
  return {
    ...decodeModuleSummary(o, path),
    guideHtml: optStr(o.guide_html ?? o.guide) ?? "",
    goals: localizedList(o.goals),
    steps: arr(o.steps ?? [], `${path}.steps`).map((s, i) => {
      const so = obj(s, `${path}.steps[${i}]`);
      return { id: str(so.id, `${path}.steps[${i}].id`), title: localized(so.title) };
    }),
    files,
    limits,
    hintLevels: Array.isArray(o.hint_levels)
      ? Math.max(0, ...o.hint_levels.filter((x): x is number => typeof x === "number"))
      : numOr(o.hint_levels ?? o.hint_count, 0),
  };
}

export function decodeModuleList(v: unknown): ModuleSummary[] {
  const list = isObj(v) && Array.isArray(v.results) ? v.results : isObj(v) && Array.isArray(v.modules) ? v.modules : v;
  return arr(list, "modules")
    .map((m, i) => decodeModuleSummary(m, `modules[${i}]`))
    .sort((a, b) => a.order - b.order);
}

export function decodeTestResult(v: unknown, path = "test"): TestResult {
  const o = obj(v, path);
  const id = str(o.id, `${path}.id`);
  return {
    id,
    name: optStr(o.name) ?? id,
    step: optStr(o.step),
    status: oneOf(o.status, TEST_STATUSES, "error"),
    message: optStr(o.message) ?? "",
    output: optStr(o.output) ?? "",
    durationSeconds: numOr(o.duration_seconds, 0),
    visibility: o.visibility === "hidden" ? "hidden" : "visible",
    hint: optStr(o.hint),
  };
}

function decodeMetricValue(v: unknown): MetricValue | null {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === "number" && Number.isFinite(x));
  return null;
}

export function decodeResult(v: unknown, path = "result"): GradeResult {
  const o = obj(v, path);
  const metrics: Record<string, MetricValue> = {};
  if (isObj(o.metrics)) {
    for (const [k, mv] of Object.entries(o.metrics)) {
      const d = decodeMetricValue(mv);
      if (d !== null) metrics[k] = d;
    }
  }
  const usage = isObj(o.usage) ? o.usage : {};
  return {
    status: oneOf(o.status, ["pass", "fail", "error"] as const, "error"),
    outcome: optStr(o.outcome) ?? "platform_error",
    fault: o.fault === "learner" || o.fault === "platform" ? o.fault : null,
    message: optStr(o.message) ?? "",
    score: numOr(o.score, 0),
    maxScore: numOr(o.max_score, 0),
    tests: arr(o.tests ?? [], `${path}.tests`).map((t, i) => decodeTestResult(t, `${path}.tests[${i}]`)),
    metrics,
    usage: {
      wallSeconds: optNum(usage.wall_seconds),
      cpuSeconds: optNum(usage.cpu_seconds),
      maxRssBytes: optNum(usage.max_rss_bytes),
    },
    module: optStr(o.module) ?? "",
  };
}

/** Decode one engine event; unknown event types return null (newer servers may send more kinds). */
export function decodeEvent(v: unknown, path = "event"): EngineEvent | null {
  const o = obj(v, path);
  const seq = numOr(o.seq, -1);
  const t = numOr(o.t, 0);
  switch (o.type) {
    case "phase":
      return { type: "phase", seq, t, phase: optStr(o.phase) ?? "", count: optNum(o.count) };
    case "test_started":
      return {
        type: "test_started",
        seq,
        t,
        id: str(o.id, `${path}.id`),
        name: optStr(o.name) ?? str(o.id, `${path}.id`),
        step: optStr(o.step),
        visibility: o.visibility === "hidden" ? "hidden" : "visible",
      };
    case "output":
      return {
        type: "output",
        seq,
        t,
        stream: o.stream === "stderr" ? "stderr" : "stdout",
        testId: optStr(o.test_id),
        data: optStr(o.data) ?? "",
      };
    case "test_finished":
      return { type: "test_finished", seq, t, test: decodeTestResult(o.test, `${path}.test`) };
    case "metric": {
      const value = decodeMetricValue(o.series ?? o.value);
      if (value === null) return null;
      return { type: "metric", seq, t, name: str(o.name, `${path}.name`), value };
    }
    case "verdict":
      return { type: "verdict", seq, t, result: decodeResult(o.result, `${path}.result`) };
    default:
      return null;
  }
}

function decodeAdvice(v: unknown): Advice[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isObj).map((a, i) => ({
    id: optStr(a.id) ?? `advice-${i}`,
    text: localized(a.advice ?? a.text),
    testId: optStr(a.test_id ?? a.test),
  }));
}

export function decodeSubmission(v: unknown, path = "submission"): Submission {
  const o = obj(v, path);
  const resultRaw = o.result;
  // the result may be the raw schema or a row wrapping it ({status, result: {...}} / {payload: {...}})
  let result: GradeResult | null = null;
  if (isObj(resultRaw)) {
    const inner = isObj(resultRaw.payload) ? resultRaw.payload : resultRaw;
    result = decodeResult(inner, `${path}.result`);
  }
  const events = Array.isArray(o.events)
    ? o.events.flatMap((e, i) => {
        const d = decodeEvent(e, `${path}.events[${i}]`);
        return d ? [d] : [];
      })
    : [];
  return {
    id: str(o.id, `${path}.id`),
    module: optStr(o.module ?? o.module_slug) ?? "",
    status: optStr(o.status) ?? "queued",
    createdAt: optStr(o.created_at ?? o.created),
    files: isObj(o.files) ? fileMap(o.files, `${path}.files`) : {},
    result,
    events,
    advice: decodeAdvice(o.advice ?? o.feedback),
    number: optNum(o.number ?? o.attempt),
  };
}

export function decodeSubmissionList(v: unknown): Submission[] {
  const list = isObj(v) && Array.isArray(v.results) ? v.results : isObj(v) && Array.isArray(v.submissions) ? v.submissions : v;
  return arr(list, "submissions").map((s, i) => decodeSubmission(s, `submissions[${i}]`));
}

export function decodeHint(v: unknown, path = "hint"): Hint {
  const o = obj(v, path);
  return {
    id: optStr(o.id) ?? path,
    level: numOr(o.level, 1),
    step: optStr(o.step),
    text: localized(o.text),
  };
}

/** `POST hints/reveal/` may answer one hint or `{hints: [...]}` (all revealed so far). */
export function decodeHintReveal(v: unknown): Hint[] {
  if (isObj(v) && Array.isArray(v.hints)) return v.hints.map((h, i) => decodeHint(h, `hints[${i}]`));
  if (Array.isArray(v)) return v.map((h, i) => decodeHint(h, `hints[${i}]`));
  return [decodeHint(v)];
}

export function decodeReflectionQuestions(v: unknown): ReflectionQuestion[] {
  const list = isObj(v) && Array.isArray(v.questions) ? v.questions : Array.isArray(v) ? v : [];
  return list.map((q, i) => {
    const o = obj(q, `questions[${i}]`);
    return {
      id: str(o.id, `questions[${i}].id`),
      kind: o.kind === "choice" ? "choice" : "text",
      prompt: localized(o.prompt),
      choices: Array.isArray(o.choices) ? o.choices.filter(isObj).map((c) => ({ id: optStr(c.id) ?? "", text: localized(c.text) })) : [],
    };
  });
}

/** `POST reflection/` answers `{answers, correct: {qid: bool}, state}`. */
export interface ReflectionAnswer {
  correct: Record<string, boolean>;
  state: ModuleState | null;
}

export function decodeReflectionAnswer(v: unknown): ReflectionAnswer {
  const o = obj(v, "reflection");
  const correct: Record<string, boolean> = {};
  if (isObj(o.correct)) for (const [k, c] of Object.entries(o.correct)) correct[k] = c === true;
  return { correct, state: typeof o.state === "string" && (MODULE_STATES as readonly string[]).includes(o.state) ? (o.state as ModuleState) : null };
}

export function decodeNote(v: unknown, path = "note"): Note {
  const o = obj(v, path);
  return {
    id: str(o.id, `${path}.id`),
    text: optStr(o.text ?? o.body) ?? "",
    module: optStr(o.module ?? o.module_slug),
    moduleTitle: o.module_title == null ? null : localized(o.module_title),
    createdAt: optStr(o.created_at ?? o.created),
  };
}

export function decodeReview(v: unknown): ReviewItem[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isObj).flatMap((r) =>
    typeof r.slug === "string"
      ? [
          {
            slug: r.slug,
            title: localized(r.title ?? r.slug),
            reason: oneOf(r.reason, ["last_attempt_failed", "reflection_pending", "other"] as const, "other"),
          },
        ]
      : [],
  );
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

export function decodeAwards(v: unknown): Award[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isObj).flatMap((b) =>
    typeof b.id === "string"
      ? [
          {
            id: b.id,
            title: optStr(b.title) ?? b.id,
            description: optStr(b.description) ?? "",
            earned: bool(b.earned),
            earnedAt: optStr(b.earned_at),
            count: numOr(b.count, 0),
            target: Math.max(1, numOr(b.target, 1)),
          },
        ]
      : [],
  );
}

export function decodeNotes(v: unknown): Note[] {
  const list = isObj(v) && Array.isArray(v.results) ? v.results : isObj(v) && Array.isArray(v.notes) ? v.notes : v;
  return arr(list, "notes").map((n, i) => decodeNote(n, `notes[${i}]`));
}

/** Lint answers: `{diagnostics: [...]}` in our shape, or ruff's own JSON (`location.row` / `end_location`). */
export function decodeLint(v: unknown): LintDiagnostic[] {
  const list = isObj(v) && Array.isArray(v.diagnostics) ? v.diagnostics : Array.isArray(v) ? v : [];
  return list.filter(isObj).map((d) => {
    const loc = isObj(d.location) ? d.location : {};
    const end = isObj(d.end_location) ? d.end_location : {};
    const line = numOr(d.line ?? d.row ?? loc.row, 1);
    const column = numOr(d.column ?? d.col ?? loc.column, 1);
    const code = optStr(d.code) ?? "";
    return {
      line,
      column,
      endLine: numOr(d.end_line ?? end.row, line),
      endColumn: numOr(d.end_column ?? end.column, column + 1),
      code,
      message: optStr(d.message) ?? "",
      severity: d.severity === "error" || code === "" || code.startsWith("E9") ? "error" : "warning",
    };
  });
}

export function decodeFormat(v: unknown): string {
  const o = obj(v, "format");
  return str(o.text ?? o.formatted, "format.text");
}

export function decodeDraft(v: unknown): Record<string, string> | null {
  if (!isObj(v) || !isObj(v.files)) return null;
  return fileMap(v.files, "draft.files");
}

export function decodeReference(v: unknown): Record<string, string> {
  const o = obj(v, "reference");
  return fileMap(o.files ?? {}, "reference.files");
}

// ---------------------------------------------------------------------------------------------- discussions

export type ThreadKind = "question" | "review";
const THREAD_KINDS = ["question", "review"] as const;

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
}

export interface ThreadPost {
  id: string;
  author: string;
  isMentor: boolean;
  /** Markdown rendered and sanitised by the server (nh3): the one kind of post text the page inserts as HTML. */
  bodyHtml: string;
  createdAt: string | null;
}

export interface ThreadDetail extends ThreadSummary {
  posts: ThreadPost[];
  canReply: boolean;
  canResolve: boolean;
}

export function decodeThread(v: unknown, path = "thread"): ThreadSummary {
  const o = obj(v, path);
  return {
    id: str(o.id, `${path}.id`),
    module: str(o.module, `${path}.module`),
    moduleTitle: optStr(o.module_title) ?? "",
    kind: oneOf(o.kind, THREAD_KINDS, "question"),
    title: str(o.title, `${path}.title`),
    status: oneOf(o.status, ["open", "resolved"] as const, "open"),
    author: optStr(o.author) ?? "",
    submission: optStr(o.submission),
    postCount: numOr(o.post_count, 0),
    mentorAnswered: bool(o.mentor_answered),
    createdAt: optStr(o.created_at),
    updatedAt: optStr(o.updated_at),
    url: optStr(o.url) ?? "",
  };
}

export function decodeThreadPost(v: unknown, path = "post"): ThreadPost {
  const o = obj(v, path);
  return {
    id: str(o.id, `${path}.id`),
    author: optStr(o.author) ?? "",
    isMentor: bool(o.is_mentor),
    bodyHtml: str(o.body_html, `${path}.body_html`),
    createdAt: optStr(o.created_at),
  };
}

export function decodeThreadDetail(v: unknown): ThreadDetail {
  const o = obj(v, "thread");
  return {
    ...decodeThread(o),
    posts: arr(o.posts, "thread.posts").map((p, i) => decodeThreadPost(p, `thread.posts[${i}]`)),
    canReply: bool(o.can_reply),
    canResolve: bool(o.can_resolve),
  };
}

/** `{"threads": [...]}` (a module's threads) or `{"reviews": [...]}` (the mentors' queue). */
export function decodeThreadList(v: unknown, key: "threads" | "reviews" = "threads"): ThreadSummary[] {
  const o = obj(v, key);
  return arr(o[key], key).map((item, i) => decodeThread(item, `${key}[${i}]`));
}

export interface NewThread {
  kind: ThreadKind;
  title: string;
  body: string;
  submission?: number;
}

// ---------------------------------------------------------------------------------------------- websocket frames

export type ServerFrame =
  { type: "grading.event"; submissionId: string; event: EngineEvent } | { type: "error"; message: string } | { type: "other" };

export function decodeFrame(raw: string): ServerFrame {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return { type: "error", message: "malformed frame" };
  }
  if (!isObj(v)) return { type: "other" };
  if (v.type === "error") return { type: "error", message: optStr(v.message) ?? "" };
  if (v.type === "grading.event" || v.type === "grading_event") {
    const event = decodeEvent(v.event, "frame.event");
    if (event === null) return { type: "other" };
    return { type: "grading.event", submissionId: str(v.submission_id, "frame.submission_id"), event };
  }
  return { type: "other" };
}

// ---------------------------------------------------------------------------------------------- page data

/** Read the `{{ page_data|json_script:"page-data" }}` blob Django embedded. */
export function readPageData(): Obj {
  const el = document.getElementById("page-data");
  if (!el?.textContent) return {};
  const v: unknown = JSON.parse(el.textContent);
  return isObj(v) ? v : {};
}

export interface PageContext {
  csrfToken: string | null;
  user: string | null;
  /** `user.is_instructor`: instructors see the mentor queue and answer review requests. */
  isInstructor: boolean;
  urls: Record<string, string>;
}

export function decodePageContext(pd: Obj): PageContext {
  const urls: Record<string, string> = {};
  if (isObj(pd.urls)) for (const [k, u] of Object.entries(pd.urls)) if (typeof u === "string") urls[k] = u;
  const user = isObj(pd.user) ? optStr(pd.user.username) : optStr(pd.user ?? pd.username);
  const isInstructor = isObj(pd.user) && bool(pd.user.is_instructor);
  return { csrfToken: optStr(pd.csrf_token), user, isInstructor, urls };
}

// ---------------------------------------------------------------------------------------------- HTTP

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

let csrfOverride: string | null = null;

export function setCsrfToken(token: string | null): void {
  csrfOverride = token;
}

function csrfToken(): string {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (m?.[1]) return decodeURIComponent(m[1]);
  if (csrfOverride) return csrfOverride;
  const input = document.querySelector<HTMLInputElement>("input[name=csrfmiddlewaretoken]");
  return input?.value ?? "";
}

function errorMessage(body: unknown, status: number): string {
  if (isObj(body)) {
    if (typeof body.detail === "string") return body.detail;
    if (typeof body.message === "string") return body.message;
    if (typeof body.error === "string") return body.error;
    const first = Object.entries(body)[0];
    if (first) return `${first[0]}: ${Array.isArray(first[1]) ? first[1].join(" ") : String(first[1])}`;
  }
  return `HTTP ${status}`;
}

async function request(method: string, url: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const init: RequestInit = { method, headers, credentials: "same-origin" };
  if (body !== undefined) init.body = JSON.stringify(body);
  if (signal) init.signal = signal;
  const res = await fetch(url, init);
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) throw new ApiError(res.status, errorMessage(data, res.status), data);
  return data;
}

const enc = encodeURIComponent;

export const api = {
  async modules(): Promise<ModuleSummary[]> {
    return decodeModuleList(await request("GET", "/api/modules/"));
  },
  async module(slug: string): Promise<ModuleDetail> {
    return decodeModuleDetail(await request("GET", `/api/modules/${enc(slug)}/`));
  },
  async draft(slug: string): Promise<Record<string, string> | null> {
    return decodeDraft(await request("GET", `/api/modules/${enc(slug)}/draft/`));
  },
  async saveDraft(slug: string, files: Record<string, string>, keepalive = false): Promise<void> {
    if (keepalive) {
      // page is unloading: fire-and-forget with keepalive so the last keystrokes still reach the server
      void fetch(`/api/modules/${enc(slug)}/draft/`, {
        method: "PUT",
        keepalive: true,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ files }),
      });
      return;
    }
    await request("PUT", `/api/modules/${enc(slug)}/draft/`, { files });
  },
  async submit(slug: string, files: Record<string, string>): Promise<{ id: string; status: string }> {
    const o = obj(await request("POST", `/api/modules/${enc(slug)}/submissions/`, { files }), "submission");
    return { id: str(o.id, "submission.id"), status: optStr(o.status) ?? "queued" };
  },
  async submissions(slug: string): Promise<Submission[]> {
    return decodeSubmissionList(await request("GET", `/api/modules/${enc(slug)}/submissions/`));
  },
  async submission(id: string): Promise<Submission> {
    return decodeSubmission(await request("GET", `/api/submissions/${enc(id)}/`));
  },
  async reference(slug: string): Promise<Record<string, string>> {
    return decodeReference(await request("GET", `/api/modules/${enc(slug)}/reference/`));
  },
  async revealHint(slug: string, level: number): Promise<Hint[]> {
    return decodeHintReveal(await request("POST", `/api/modules/${enc(slug)}/hints/reveal/`, { level }));
  },
  async reflect(slug: string, answers: Record<string, string>): Promise<ReflectionAnswer> {
    return decodeReflectionAnswer(await request("POST", `/api/modules/${enc(slug)}/reflection/`, { answers }));
  },
  async notes(): Promise<Note[]> {
    return decodeNotes(await request("GET", "/api/notes/"));
  },
  async addNote(text: string, module: string | null): Promise<Note> {
    const body: Record<string, string> = { text };
    if (module) body.module = module;
    return decodeNote(await request("POST", "/api/notes/", body));
  },
  async lint(path: string, text: string, signal?: AbortSignal): Promise<LintDiagnostic[]> {
    return decodeLint(await request("POST", "/api/tools/lint/", { path, text }, signal));
  },
  async format(path: string, text: string): Promise<string> {
    return decodeFormat(await request("POST", "/api/tools/format/", { path, text }));
  },
  async threads(slug: string, kind?: ThreadKind): Promise<ThreadSummary[]> {
    const query = kind ? `?kind=${enc(kind)}` : "";
    return decodeThreadList(await request("GET", `/api/modules/${enc(slug)}/threads/${query}`));
  },
  async createThread(slug: string, thread: NewThread): Promise<ThreadDetail> {
    return decodeThreadDetail(await request("POST", `/api/modules/${enc(slug)}/threads/`, thread));
  },
  async thread(id: string): Promise<ThreadDetail> {
    return decodeThreadDetail(await request("GET", `/api/threads/${enc(id)}/`));
  },
  async reply(id: string, body: string): Promise<ThreadPost> {
    return decodeThreadPost(await request("POST", `/api/threads/${enc(id)}/posts/`, { body }));
  },
  async resolveThread(id: string): Promise<ThreadDetail> {
    return decodeThreadDetail(await request("POST", `/api/threads/${enc(id)}/resolve/`));
  },
  async reviewQueue(): Promise<ThreadSummary[]> {
    return decodeThreadList(await request("GET", "/api/reviews/"), "reviews");
  },
};
