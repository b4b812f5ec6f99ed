import { describe, expect, it } from "vitest";
import {
  DecodeError,
  decodeDashboardPage,
  decodeEvent,
  decodeFrame,
  decodeLint,
  decodeMeasurementsPage,
  decodeModuleList,
  decodeModulePage,
  decodeSubmission,
  decodeSubmissionList,
  decodeThreadDetail,
} from "../src/decode";
import { attempt, moduleSummary, modulePage, result, submissionDetail, testResult, thread } from "./fixtures";

function decodeError(fn: () => unknown): DecodeError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DecodeError) return err;
    throw err;
  }
  throw new Error("expected a DecodeError");
}

describe("module lists", () => {
  it("maps a module summary to the dashboard's view of it, in course order", () => {
    const modules = decodeModuleList({ modules: [moduleSummary({ slug: "02-b", order: 2, state: "locked" }), moduleSummary()] });
    expect(modules.map((m) => m.slug)).toEqual(["01-hello", "02-b"]);
    expect(modules[0]).toMatchObject({ state: "passed", attempts: 2, bestScore: 1, lastStatus: "pass", lastScore: 1, reflectionDone: false });
  });

  it("names the field that breaks the contract", () => {
    const err = decodeError(() => decodeModuleList({ modules: [moduleSummary(), moduleSummary({ state: "open" })] }));
    expect(err.path).toBe("modules.modules[1].state");
    expect(err.message).toMatch(/^modules\.modules\[1\]\.state: /);
  });

  it("rejects a summary without its progress", () => {
    const broken = moduleSummary();
    delete broken.progress;
    expect(decodeError(() => decodeModuleList({ modules: [broken] })).path).toBe("modules.modules[0]");
  });
});

describe("submissions", () => {
  it("decodes a submission with its result, advice and events", () => {
    const s = decodeSubmission(submissionDetail());
    expect(s).toMatchObject({ id: "7", module: "01-hello", status: "done", files: { "hello.py": "print('hi')\n" } });
    expect(s.result).toMatchObject({ status: "pass", maxScore: 1, usage: { wallSeconds: 1.5 } });
    expect(s.result?.tests[0]).toMatchObject({ id: "visible/test_hello.py::test_greet", durationSeconds: 0.01, visibility: "visible" });
    expect(s.advice).toEqual([{ id: "greet", text: "Mind the comma." }]);
    expect(s.events.map((e) => e.type)).toEqual(["phase", "test_started", "output", "metric", "test_finished", "verdict"]);
    expect(s.events[2]).toMatchObject({ type: "output", testId: "visible/test_hello.py::test_greet", data: "hi\n" });
    expect(s.events[3]).toMatchObject({ type: "metric", name: "loss", value: [3, 2, 1] });
  });

  it("points at a wrong test status deep inside the result", () => {
    const bad = submissionDetail({ result: result({ tests: [testResult({ status: "passed" })] }) });
    expect(decodeError(() => decodeSubmission(bad)).path).toBe("submission.result.tests[0].status");
  });

  it("refuses a result of an unknown schema version", () => {
    expect(decodeError(() => decodeSubmission(submissionDetail({ result: result({ schema_version: 2 }) }))).path).toBe(
      "submission.result.schema_version",
    );
  });

  it("summarises list items without files", () => {
    const [s] = decodeSubmissionList({ submissions: [attempt({ result: null, status: "running", finished_at: null })] });
    expect(s).toMatchObject({ id: "7", status: "running", result: null, files: {} });
  });
});

describe("events and frames", () => {
  it("ignores an event of a type it does not know", () => {
    expect(decodeEvent({ type: "heartbeat", seq: 9, t: 1 })).toBeNull();
  });

  it("rejects a known event that lacks a field", () => {
    expect(decodeError(() => decodeEvent({ type: "test_started", seq: 1, t: 0, id: "x", name: "x", visibility: "visible" })).message).toMatch(/step/);
  });

  it("decodes each frame the server sends", () => {
    expect(
      decodeFrame(JSON.stringify({ type: "grading.event", submission_id: 7, event: { type: "phase", seq: 0, t: 0, phase: "started" } })),
    ).toEqual({
      type: "grading.event",
      submissionId: "7",
      event: { type: "phase", seq: 0, t: 0, phase: "started", count: null },
    });
    expect(decodeFrame('{"type": "subscribed", "submission_id": 7, "status": "running"}')).toEqual({
      type: "subscribed",
      submissionId: "7",
      status: "running",
    });
    expect(decodeFrame('{"type": "error", "message": "no such submission"}')).toEqual({ type: "error", message: "no such submission" });
    expect(decodeFrame('{"type": "pong"}')).toEqual({ type: "pong" });
  });

  it("reports a broken frame as invalid, with its submission when it names one, instead of throwing", () => {
    const broken = decodeFrame(JSON.stringify({ type: "grading.event", submission_id: 7, event: { type: "verdict", seq: 3 } }));
    expect(broken).toMatchObject({ type: "invalid", submissionId: "7" });
    expect(decodeFrame("{oops")).toMatchObject({ type: "invalid", submissionId: null });
    expect(decodeFrame('{"type": "grading.event", "submission_id": 7, "event": {"type": "heartbeat", "seq": 1}}')).toMatchObject({
      type: "invalid",
      submissionId: "7",
    });
  });
});

describe("page data", () => {
  it("decodes the module page: detail, hint levels, hints, reflection and attempts", () => {
    const page = decodeModulePage(modulePage());
    expect(page.detail).toMatchObject({ slug: "01-hello", state: "unlocked", goals: ["Greet"], hintLevels: 2, guideHtml: "<p>Hi</p>" });
    expect(page.detail.files).toEqual([{ path: "hello.py", starter: "# TODO\n", draft: null }]);
    expect(page.next).toEqual({ slug: "02-next", title: "Next", url: "/modules/02-next/" });
    expect(page.hints.map((h) => h.id)).toEqual(["h1"]);
    expect(page.answers).toEqual({});
    expect(page.attempts.map((a) => a.id)).toEqual(["7"]);
    expect(page.wsUrl).toBe("/ws/grading/");
  });

  it("refuses a module page whose files lack their starter", () => {
    const page = modulePage({ files: [{ path: "hello.py", draft: null, language: "python" }] });
    expect(decodeError(() => decodeModulePage(page)).path).toBe("page.files[0]");
  });

  it("decodes the dashboard, badges and the mentor queue", () => {
    const d = decodeDashboardPage({
      user: { username: "prof", is_instructor: true },
      lang: "zh-hans",
      modules: [moduleSummary()],
      notes: [{ id: 1, module: null, module_title: null, text: "note", created_at: "2026-01-01T00:00:00+00:00" }],
      review: [{ slug: "01-hello", title: "Hello", reason: "reflection_pending" }],
      badges: [{ id: "first", title: "First", description: "d", earned: true, earned_at: "2026-01-01T00:00:00+00:00", count: 1, target: 1 }],
      mentor_queue: [thread()],
      api: { modules: "/api/modules/", notes: "/api/notes/" },
      urls: { logout: "/l/", setlang: "/s/", admin: "/admin/" },
      csrf_token: "t",
    });
    expect(d.notes[0]).toMatchObject({ id: "1", module: null, text: "note" });
    expect(d.awards[0]).toMatchObject({ id: "first", earned: true, earnedAt: "2026-01-01T00:00:00+00:00" });
    expect(d.mentorQueue[0]).toMatchObject({ id: "3", kind: "review", submission: "7", postCount: 1 });
  });
});

describe("smaller answers", () => {
  it("decodes a thread with its posts", () => {
    const t = decodeThreadDetail({
      ...thread(),
      posts: [{ id: 5, author: "prof", is_mentor: true, body_html: "<p>ok</p>", created_at: "2026-01-01T00:00:00+00:00" }],
      can_reply: true,
      can_resolve: false,
    });
    expect(t).toMatchObject({ id: "3", canReply: true, canResolve: false, posts: [{ id: "5", isMentor: true, bodyHtml: "<p>ok</p>" }] });
  });

  it("marks syntax errors (no code) and E9 codes as errors, the rest as warnings", () => {
    const d = (code: string | null) => ({ code, message: "m", line: 1, column: 2, end_line: 1, end_column: 3, severity: "warning", fixable: false });
    expect(decodeLint({ diagnostics: [d(null), d("E999"), d("F401")] }).map((x) => x.severity)).toEqual(["error", "error", "warning"]);
  });
});

describe("my measurements", () => {
  const page = {
    user: { username: "ada", is_instructor: false },
    lang: "en",
    csrf_token: "t",
    modules: [
      {
        slug: "02-tokenizer",
        order: 2,
        title: "Tokenizer",
        url: "/modules/02-tokenizer/",
        attempt: { submission_id: 7, passed: true, score: 9, max_score: 9, at: "2026-12-07T10:00:00Z" },
        metrics: { train_seconds_baseline: 4, train_seconds_optimized: 1, bpt: { y: [3, 2], x: [0, 16], title: { en: "Bytes", zh: "字节" } } },
        reference: [{ key: "02-tokenizer/bpe-compression", plot: "{}" }],
      },
    ],
    producers: [{ slug: "02-tokenizer", order: 2, title: "Tokenizer", url: null, state: "locked" }],
  };

  it("decodes each module's attempt, metrics (series with their x values) and reference plots", () => {
    const decoded = decodeMeasurementsPage(page);
    const [module] = decoded.modules;
    expect(decoded.modules).toHaveLength(1);
    expect(module?.attempt).toEqual({ submissionId: 7, passed: true, score: 9, maxScore: 9, at: "2026-12-07T10:00:00Z" });
    expect(module?.metrics.bpt).toEqual({ y: [3, 2], x: [0, 16], title: { en: "Bytes", zh: "字节" }, xLabel: null });
    expect(module?.reference).toEqual([{ key: "02-tokenizer/bpe-compression", plot: "{}" }]);
    expect(decoded.producers).toEqual([{ slug: "02-tokenizer", order: 2, title: "Tokenizer", url: null, state: "locked" }]);
  });

  it("names the field that breaks the contract", () => {
    const broken = { ...page, producers: [{ ...page.producers[0], state: "open" }] };
    expect(decodeError(() => decodeMeasurementsPage(broken)).message).toContain("producers");
  });
});
