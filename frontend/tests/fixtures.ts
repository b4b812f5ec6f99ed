/** Payloads as the server sends them (see labplatform/schemas/), for the decoder and page tests. */

export function testResult(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "visible/test_hello.py::test_greet",
    name: "test_greet",
    step: "step1",
    status: "pass",
    message: "",
    output: "hi\n",
    duration_seconds: 0.01,
    visibility: "visible",
    hint: null,
    metrics: {},
    ...overrides,
  };
}

export function result(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema_version: 1,
    status: "pass",
    outcome: "ok",
    fault: null,
    message: "All tests passed.",
    score: 1,
    max_score: 1,
    tests: [testResult()],
    metrics: { loss: [3, 2, 1], max_abs_err: 0.001 },
    usage: { wall_seconds: 1.5, cpu_seconds: 1.2, max_rss_bytes: 1000 },
    timestamps: { queued: "2026-01-01T00:00:00Z", started: "2026-01-01T00:00:01Z", finished: "2026-01-01T00:00:02Z" },
    module: "01-hello",
    submission_id: "7",
    ...overrides,
  };
}

export function attempt(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 7,
    status: "done",
    created_at: "2026-01-01T00:00:00+00:00",
    finished_at: "2026-01-01T00:00:02+00:00",
    result: { status: "pass", outcome: "ok", score: 1, max_score: 1 },
    superseded_by: null,
    url: "/api/submissions/7/",
    ...overrides,
  };
}

export function moduleSummary(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    slug: "01-hello",
    order: 1,
    title: "Hello",
    summary: "Say hello",
    prerequisites: [],
    state: "passed",
    progress: { status: "passed", attempts: 2, best_score: 1, max_score: 1, passed_at: "2026-01-01T00:00:02+00:00" },
    latest_result: { submission_id: 7, status: "pass", outcome: "ok", score: 1, max_score: 1, at: "2026-01-01T00:00:02+00:00" },
    url: "/modules/01-hello/",
    api_url: "/api/modules/01-hello/",
    ...overrides,
  };
}

export function submissionDetail(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 7,
    module: "01-hello",
    status: "done",
    queue: null,
    superseded_by: null,
    created_at: "2026-01-01T00:00:00+00:00",
    started_at: "2026-01-01T00:00:01+00:00",
    finished_at: "2026-01-01T00:00:02+00:00",
    content_hash: "abc",
    files: { "hello.py": "print('hi')\n" },
    result: result(),
    advice: [{ id: "greet", advice: "Mind the comma." }],
    events: [
      { type: "phase", seq: 0, t: 0, phase: "started" },
      { type: "test_started", seq: 1, t: 0.1, id: "visible/test_hello.py::test_greet", name: "test_greet", step: "step1", visibility: "visible" },
      { type: "output", seq: 2, t: 0.2, stream: "stdout", test_id: "visible/test_hello.py::test_greet", data: "hi\n" },
      { type: "metric", seq: 3, t: 0.3, name: "loss", series: [3, 2, 1] },
      { type: "test_finished", seq: 4, t: 0.4, test: testResult() },
      verdictEvent(),
    ],
    ...overrides,
  };
}

export function modulePage(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    user: { username: "ada", is_instructor: false },
    lang: "en",
    module: {
      slug: "01-hello",
      order: 1,
      title: "Hello",
      summary: "Say hello",
      goals: ["Greet"],
      prerequisites: [],
      state: "unlocked",
      limits: { wall_seconds: 30, gpu: false },
      runtime: "python",
      content_hash: "abc",
    },
    guide_html: "<p>Hi</p>",
    steps: [{ id: "step1", title: "Greet" }],
    files: [{ path: "hello.py", starter: "# TODO\n", draft: null, language: "python" }],
    next_module: { slug: "02-next", title: "Next", url: "/modules/02-next/" },
    hints: { revealed: [{ id: "h1", step: "step1", level: 1, text: "Use an f-string." }], levels: [1, 2] },
    reflection: { questions: [{ id: "q1", kind: "text", prompt: "Why?", choices: [] }], answers: null },
    attempts: [attempt()],
    reference_available: true,
    ws_url: "/ws/grading/",
    api: {
      module: "/api/modules/01-hello/",
      draft: "/api/modules/01-hello/draft/",
      submissions: "/api/modules/01-hello/submissions/",
      submission_detail: "/api/submissions/{id}/",
      reference: "/api/modules/01-hello/reference/",
      hints_reveal: "/api/modules/01-hello/hints/reveal/",
      reflection: "/api/modules/01-hello/reflection/",
      notes: "/api/notes/",
      lint: "/api/tools/lint/",
      format: "/api/tools/format/",
    },
    urls: { dashboard: "/", logout: "/accounts/logout/", setlang: "/i18n/setlang/" },
    csrf_token: "token",
    ...overrides,
  };
}

export function thread(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 3,
    module: "01-hello",
    module_title: "Hello",
    kind: "review",
    title: "Please look",
    status: "open",
    author: "ada",
    submission: 7,
    post_count: 1,
    mentor_answered: false,
    created_at: "2026-01-01T00:00:00+00:00",
    updated_at: "2026-01-01T00:00:00+00:00",
    url: "/modules/01-hello/#thread-3",
    api_url: "/api/threads/3/",
    ...overrides,
  };
}

export function verdictEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: "verdict",
    seq: 5,
    result: result(),
    advice: [{ id: "greet", advice: { en: "Mind the comma.", zh: "注意逗号。" } }],
    attempt: attempt(),
    progress: { state: "passed", attempts: 2, best_score: 1, max_score: 1, passed_at: "2026-01-01T00:00:02+00:00" },
    unlocked: [{ slug: "02-next", title: { en: "Next", zh: "下一步" }, url: "/modules/02-next/" }],
    next_module: { slug: "02-next", title: { en: "Next", zh: "下一步" }, url: "/modules/02-next/", state: "unlocked" },
    ...overrides,
  };
}
