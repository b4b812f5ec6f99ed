/**
 * The one place that talks to the server; decoders (decode.ts) turn every answer into typed values.
 *
 * Writes send Django's CSRF token (cookie `csrftoken`, or the value the template embedded) and same-origin
 * session cookies, as the DRF session authentication expects.
 */
import {
  decodeAssembleReply,
  decodeAssembleRun,
  decodeReference,
  decodeFormat,
  decodeHintReveal,
  decodeLint,
  decodeHeartbeat,
  decodeModuleList,
  decodeNote,
  decodeNotifications,
  decodeBadges,
  decodeNotes,
  decodeReflectionAnswer,
  decodeReviewQueue,
  decodeSubmission,
  decodeSurvey,
  decodeSubmissionCreated,
  decodeSubmissionList,
  decodeThreadDetail,
  decodeThreadList,
  decodeThreadPost,
  type AssembleReply,
  type AssembleRun,
  type Award,
  type Hint,
  type LintDiagnostic,
  type ModuleSummary,
  type Note,
  type Notifications,
  type Reference,
  type ReflectionAnswer,
  type Submission,
  type Survey,
  type ThreadDetail,
  type ThreadKind,
  type ThreadPost,
  type ThreadSummary,
} from "./decode";

export * from "./decode";

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export interface NewThread {
  kind: ThreadKind;
  title: string;
  body: string;
  submission?: number;
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
  const user = isObj(pd.user) && typeof pd.user.username === "string" ? pd.user.username : null;
  const isInstructor = isObj(pd.user) && pd.user.is_instructor === true;
  return { csrfToken: typeof pd.csrf_token === "string" ? pd.csrf_token : null, user, isInstructor, urls };
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
  const form = body instanceof FormData;
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  const init: RequestInit = { method, headers, credentials: "same-origin" };
  if (body !== undefined) init.body = form ? body : JSON.stringify(body);
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
  /** Queue an assemble run of `stage` ("base" | "chat") with the learner's own files. */
  async assemble(stage: string): Promise<AssembleRun> {
    return decodeAssembleRun(await request("POST", `/api/assemble/${enc(stage)}/runs/`, {}));
  },
  /** Queue one prompt for the learner's assembled model and the reference model (answers stream on the socket). */
  async assembleReply(stage: string, prompt: string): Promise<AssembleReply> {
    return decodeAssembleReply(await request("POST", `/api/assemble/${enc(stage)}/reply/`, { prompt }));
  },
  /** A reply queued by `assembleReply`: both answers once it is done. */
  async assembleReplyGet(id: number): Promise<AssembleReply> {
    return decodeAssembleReply(await request("GET", `/api/assemble/replies/${id}/`));
  },
  async modules(): Promise<ModuleSummary[]> {
    return decodeModuleList(await request("GET", "/api/modules/"));
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
    return decodeSubmissionCreated(await request("POST", `/api/modules/${enc(slug)}/submissions/`, { files }));
  },
  async submissions(slug: string): Promise<Submission[]> {
    return decodeSubmissionList(await request("GET", `/api/modules/${enc(slug)}/submissions/`));
  },
  async submission(id: string): Promise<Submission> {
    return decodeSubmission(await request("GET", `/api/submissions/${enc(id)}/`));
  },
  async reference(slug: string): Promise<Reference> {
    return decodeReference(await request("GET", `/api/modules/${enc(slug)}/reference/`));
  },
  /** Reveal `level` of one step's hints (`step` null: the module's hints of that level for every step). */
  async revealHint(slug: string, level: number, step: string | null = null): Promise<Hint[]> {
    const body: Record<string, string | number> = { level };
    if (step !== null) body.step = step;
    return decodeHintReveal(await request("POST", `/api/modules/${enc(slug)}/hints/reveal/`, body));
  },
  async reflect(slug: string, answers: Record<string, string>): Promise<ReflectionAnswer> {
    return decodeReflectionAnswer(await request("POST", `/api/modules/${enc(slug)}/reflection/`, { answers }));
  },
  async badges(): Promise<Award[]> {
    return decodeBadges(await request("GET", "/api/badges/"));
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
  async moderateThread(id: string, action: "pin" | "unpin" | "lock" | "unlock" | "accept" | "unaccept", post?: string): Promise<ThreadDetail> {
    const body = post === undefined ? { action } : { action, post: Number(post) };
    return decodeThreadDetail(await request("POST", `/api/threads/${enc(id)}/moderate/`, body));
  },
  async hidePost(id: string, hidden: boolean): Promise<ThreadPost> {
    return decodeThreadPost(await request("POST", `/api/posts/${enc(id)}/hide/`, { hidden }));
  },
  async editPost(id: string, body: string): Promise<ThreadPost> {
    return decodeThreadPost(await request("POST", `/api/posts/${enc(id)}/edit/`, { body }));
  },
  async resolveThread(id: string): Promise<ThreadDetail> {
    return decodeThreadDetail(await request("POST", `/api/threads/${enc(id)}/resolve/`));
  },
  async reviewQueue(): Promise<ThreadSummary[]> {
    return decodeReviewQueue(await request("GET", "/api/reviews/"));
  },
  async notifications(): Promise<Notifications> {
    return decodeNotifications(await request("GET", "/api/notifications/"));
  },
  /** Mark notifications read: those in `ids`, or all of them. */
  async readNotifications(ids?: number[]): Promise<Notifications> {
    return decodeNotifications(await request("POST", "/api/notifications/read/", ids ? { ids } : {}));
  },
  /** The learner is active on this page: study time is credited from these beats. */
  /** The module's micro-survey: which prompt is due, its questions, the stored answers. */
  async survey(slug: string): Promise<Survey> {
    return decodeSurvey(await request("GET", `/api/modules/${enc(slug)}/survey/`));
  },
  /** Answer (or skip: `{stage, skipped: true}`) one stage of the survey; answers the survey as it now stands. */
  async surveyAnswer(slug: string, body: Record<string, string | number | boolean>): Promise<Survey> {
    return decodeSurvey(await request("POST", `/api/modules/${enc(slug)}/survey/`, body));
  },
  async heartbeat(): Promise<number> {
    return decodeHeartbeat(await request("POST", "/api/activity/heartbeat/", {}));
  },
  /** Upload a Markdown or text file as a note (optionally on a module). */
  async uploadNote(url: string, file: File, module: string | null): Promise<Note> {
    const form = new FormData();
    form.append("file", file);
    if (module) form.append("module", module);
    return decodeNote(await request("POST", url, form));
  },
};
