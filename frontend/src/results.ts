/**
 * The results panel of the module page: folds engine events (live) or a stored result into one view model and
 * renders it — verdict banner, per-test rows (status, step, message, output, duration), live output, advice,
 * metrics charts.
 *
 * Design choices:
 * - One `RunState` per submission, built only from decoded events (`apply`) or a final result (`finish`);
 *   events are deduplicated by `seq`, so a replay after a reconnect (or a fallback poll) overlaps safely.
 * - Hidden tests are neutral: name, status and the server's neutral message; never output or hints.
 * - Rendering rebuilds the panel from the state (small DOM), keeping which test rows the learner opened.
 * - While a run waits, the banner says why (`queue`: its place in its lane, or that it waits for the learner's
 *   own earlier run); a run a newer one superseded before it started is over without a result.
 */
import type { Advice, EngineEvent, GradeResult, MetricValue, QueueInfo, TestResult, TestStatus } from "./api";
import { planCharts, renderMetricCharts, type ChartPick } from "./charts";
import { fill, h, richText } from "./dom";
import { localizeEngine } from "./engine-messages";
import { num, pick, t, type MessageKey } from "./i18n";

type RowStatus = TestStatus | "running";

interface Row {
  id: string;
  name: string;
  step: string | null;
  visibility: "visible" | "hidden";
  status: RowStatus;
  message: string;
  output: string;
  durationSeconds: number | null;
  hint: string | null;
  /** Run time (the events' `t`) at which the test started; null once it finished. */
  startedAt: number | null;
}

const OUTPUT_CAP = 200_000;

export class RunState {
  readonly rows = new Map<string, Row>();
  output: { stream: "stdout" | "stderr"; data: string; t: number; testId: string | null }[] = [];
  /** When each metric was recorded, and by which test (the one running then): where the log jumps on a click. */
  readonly metricSources = new Map<string, { t: number; testId: string | null }>();
  private running: string | null = null;
  outputChars = 0;
  phase = "queued";
  collected: number | null = null;
  metrics: Record<string, MetricValue> = {};
  result: GradeResult | null = null;
  advice: Advice[] = [];
  /** Why the run waits, while it does. */
  queue: QueueInfo | null = null;
  /** The newer run that replaced this one before it started. */
  supersededBy: string | null = null;
  /** The latest event's run time and when this page received it: the clock running tests are timed by. */
  private clock: { t: number; at: number } | null = null;
  private readonly seen = new Set<number>();

  constructor(readonly submissionId: string) {}

  /** The test running now and its seconds so far (the events' run time, carried on by the page's clock). */
  runningTest(now: number = performance.now()): { name: string; elapsed: number } | null {
    if (this.done() || this.clock === null) return null;
    const running = [...this.rows.values()].filter((r) => r.status === "running" && r.startedAt !== null);
    const row = running[running.length - 1];
    if (!row || row.startedAt === null) return null;
    const runTime = this.clock.t + Math.max(0, now - this.clock.at) / 1000;
    return { name: row.name, elapsed: Math.max(0, runTime - row.startedAt) };
  }

  /** Where the run stands in its queue (a `grading.queue` frame or the submission detail); false when unchanged. */
  applyQueue(status: string, queue: QueueInfo | null, supersededBy: string | null): boolean {
    const before = JSON.stringify([this.queue, this.supersededBy]);
    if (status === "superseded") {
      this.queue = null;
      this.supersededBy = supersededBy;
    } else {
      this.queue = status === "queued" && this.phase === "queued" ? queue : null;
    }
    return JSON.stringify([this.queue, this.supersededBy]) !== before;
  }

  /** Fold one event in; returns false when it was a duplicate. */
  apply(event: EngineEvent): boolean {
    if (event.seq >= 0) {
      if (this.seen.has(event.seq)) return false;
      this.seen.add(event.seq);
    }
    this.queue = null; // an engine event: the run has started
    if (event.type !== "verdict" && (this.clock === null || event.t >= this.clock.t)) this.clock = { t: event.t, at: performance.now() };
    switch (event.type) {
      case "phase":
        this.phase = event.phase;
        if (event.count !== null && event.phase === "tests_collected") this.collected = event.count;
        break;
      case "test_started":
        this.rows.set(event.id, {
          id: event.id,
          name: event.name,
          step: event.step,
          visibility: event.visibility,
          status: "running",
          message: "",
          output: "",
          durationSeconds: null,
          hint: null,
          startedAt: event.t,
        });
        this.running = event.id;
        if (this.phase === "queued" || this.phase === "started" || this.phase === "sandbox_ready") this.phase = "running";
        break;
      case "output":
        if (this.outputChars < OUTPUT_CAP) {
          this.output.push({ stream: event.stream, data: event.data, t: event.t, testId: event.testId ?? this.running });
          this.outputChars += event.data.length;
        }
        break;
      case "test_finished":
        this.rows.set(event.test.id, rowFromTest(event.test));
        if (this.running === event.test.id) this.running = null;
        break;
      case "metric":
        this.metrics[event.name] = event.value;
        this.metricSources.set(event.name, { t: event.t, testId: this.running });
        break;
      case "verdict":
        this.finish(event.result);
        break;
    }
    return true;
  }

  finish(result: GradeResult): void {
    this.result = result;
    this.phase = "finished";
    for (const test of result.tests) this.rows.set(test.id, rowFromTest(test));
    this.metrics = { ...this.metrics, ...result.metrics };
  }

  /** Over: it has its result, or a newer run superseded it (it never runs). */
  done(): boolean {
    return this.result !== null || this.supersededBy !== null;
  }

  /** The output lines of the run, each with its time and test (chunks split at newlines). */
  logLines(): LogLine[] {
    const lines: LogLine[] = [];
    let open: LogLine | null = null;
    for (const chunk of this.output) {
      const parts = chunk.data.split("\n");
      parts.forEach((part, i) => {
        const continues = i === 0 && open !== null && open.stream === chunk.stream && open.testId === chunk.testId;
        if (continues && open) open.text += part;
        else if (part !== "" || i < parts.length - 1) {
          open = { t: chunk.t, testId: chunk.testId, stream: chunk.stream, text: part };
          lines.push(open);
        }
        if (i < parts.length - 1) open = null;
      });
    }
    return lines;
  }

  /** The index in `lines` of the moment behind a chart click, or -1 when the run printed nothing to show.
   *
   * Point `index` of `count` maps onto the lines the recording test printed, in proportion (a run that prints
   * one line per step lands on that step's line); a test that printed nothing maps to the last line printed
   * before the value was recorded. */
  logTarget(lines: LogLine[], pick: ChartPick): number {
    const source = this.metricSources.get(pick.metric);
    if (!source || lines.length === 0) return -1;
    const own = source.testId === null ? [] : lines.flatMap((l, i) => (l.testId === source.testId ? [i] : []));
    if (own.length) {
      const at = pick.count > 1 ? Math.round((pick.index * (own.length - 1)) / (pick.count - 1)) : own.length - 1;
      return own[Math.min(Math.max(at, 0), own.length - 1)] ?? -1;
    }
    let before = -1;
    lines.forEach((l, i) => {
      if (l.t <= source.t) before = i;
    });
    return before;
  }

  /** pass / fail per step id, from the tests seen so far. */
  stepStatus(): Map<string, "pass" | "fail"> {
    const out = new Map<string, "pass" | "fail">();
    for (const row of this.rows.values()) {
      if (!row.step || row.status === "running" || row.status === "skip") continue;
      const ok = row.status === "pass";
      if (!ok) out.set(row.step, "fail");
      else if (!out.has(row.step)) out.set(row.step, "pass");
    }
    return out;
  }
}

export interface LogLine {
  t: number;
  testId: string | null;
  stream: "stdout" | "stderr";
  text: string;
}

function rowFromTest(test: TestResult): Row {
  return {
    id: test.id,
    name: test.name,
    step: test.step,
    visibility: test.visibility,
    status: test.status,
    message: localizeEngine(test.message),
    output: test.visibility === "hidden" ? "" : test.output,
    durationSeconds: test.durationSeconds,
    hint: test.visibility === "hidden" ? null : test.hint,
    startedAt: null,
  };
}

/** A test that has run this long gets a countdown (short ones would only flicker). */
const COUNTDOWN_AFTER_SECONDS = 1;

/**
 * The running test's time against the per-call limit: a bar and a sentence ("4 s of the 10 s each call into your
 * code may take"), updated every tick; hidden until the test has run for a second.
 */
function fillCountdown(box: HTMLElement, run: RunState, callSeconds: number | null): void {
  const running = run.runningTest();
  if (!running || running.elapsed < COUNTDOWN_AFTER_SECONDS) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const elapsed = Math.floor(running.elapsed);
  const text =
    callSeconds === null
      ? t("results.countdown_open", { name: running.name, s: elapsed })
      : elapsed < callSeconds
        ? t("results.countdown", { name: running.name, s: elapsed, limit: num(callSeconds, 1), left: Math.ceil(callSeconds - running.elapsed) })
        : t("results.countdown_over", { name: running.name, s: elapsed, limit: num(callSeconds, 1) });
  const share = callSeconds ? Math.min(1, running.elapsed / callSeconds) : 0;
  box.dataset.elapsed = String(elapsed);
  fill(
    box,
    h("div", { class: "countdown-text" }, text),
    callSeconds
      ? h(
          "div",
          {
            class: "countdown-bar",
            role: "progressbar",
            "aria-valuemin": "0",
            "aria-valuemax": String(callSeconds),
            "aria-valuenow": String(elapsed),
          },
          h("span", { style: `width:${(share * 100).toFixed(1)}%` }),
        )
      : null,
  );
}

/** A run without its result yet: queued (and why it waits), or running (tests done so far). */
function pendingBanner(run: RunState): HTMLElement {
  const queued = run.phase === "queued";
  const done = [...run.rows.values()].filter((x) => x.status !== "running").length;
  const progress = run.collected !== null ? `${done} / ${run.collected}` : run.rows.size ? `${done}` : "";
  const sub =
    queued && run.queue
      ? h("div", { class: "sub", "data-testid": "queue", "data-position": String(run.queue.position) }, queueText(run.queue))
      : h("div", { class: "sub" }, progress);
  return h(
    "div",
    { class: "verdict is-running", "data-status": queued ? "queued" : "running" },
    h("div", { class: "icon" }, h("div", { class: "spinner" })),
    h("div", { class: "text" }, h("div", { class: "title" }, queued ? t("results.queued") : t("results.running")), sub),
  );
}

export interface ResultsCallbacks {
  /** Open the hints of the step a failing test belongs to (null: the module's hints). */
  onHint: (step: string | null) => void;
  /** A step's learner-facing name ("Step 2 · Attention"); the raw id when absent. */
  stepLabel?: (step: string) => string;
  /** The per-call time limit (seconds) a running test's countdown measures against; null: none shown. */
  callSeconds?: number | null;
  /** The attempt number the attempts tab gives submission `id`, if it lists it. */
  attemptNumber?: (id: string) => number | null;
}

/** What the banner says about a waiting run. */
export function queueText(q: QueueInfo): string {
  const lane = t(`lane.${q.lane}` as MessageKey);
  const where = q.waitingForOwn
    ? t("results.queue_own", { position: q.position, lane })
    : q.learnersAhead === 0 && q.position === 1
      ? t("results.queue_next", { lane })
      : t("results.queue_position", { position: q.position, lane, ahead: q.learnersAhead });
  return q.nextRunReplaces ? `${where} ${t("results.queue_replaces", { cap: q.cap })}` : where;
}

export class ResultsView {
  private readonly open = new Set<string>();
  private chartKey = "";
  private readonly banner = h("div", { "data-testid": "verdict" });
  private readonly notices = h("div", { class: "notices" });
  private readonly tests = h("div", { "data-testid": "tests" });
  private readonly live = h("div", {});
  private readonly adviceBox = h("div", {});
  private readonly chartsBox = h("div", { class: "charts", "data-testid": "charts" });
  private readonly logBox = h("div", {});
  private logged: { run: RunState; lines: LogLine[]; pre: HTMLElement } | null = null;
  private readonly metricsBox = h("div", {});
  private readonly usageBox = h("div", { class: "usage" });
  private readonly countdown = h("div", { class: "countdown", "data-testid": "countdown", hidden: true });
  private ticking: { run: RunState; timer: number } | null = null;

  constructor(
    readonly root: HTMLElement,
    private readonly callbacks: ResultsCallbacks,
  ) {
    root.replaceChildren(
      this.notices,
      this.banner,
      this.countdown,
      this.tests,
      this.live,
      this.adviceBox,
      this.metricsBox,
      this.chartsBox,
      this.logBox,
      this.usageBox,
    );
    this.empty();
  }

  empty(): void {
    this.tick(null);
    fill(this.banner, h("div", { class: "empty", "data-testid": "results-empty" }, t("results.empty")));
    for (const box of [this.tests, this.live, this.adviceBox, this.chartsBox, this.metricsBox, this.logBox, this.usageBox]) box.replaceChildren();
    this.notices.replaceChildren();
    this.chartKey = "";
    this.logged = null;
  }

  /** Between "Run tests" and the server's answer: clear the old attempt, show "queued". */
  pending(): void {
    this.empty();
    delete this.root.dataset.submission;
    this.root.dataset.phase = "submitting";
    this.renderBanner(new RunState(""));
  }

  /** A notice above the banner (unlock, connection). `key` replaces an earlier notice with the same key. */
  notice(key: string, el: HTMLElement | null): void {
    this.notices.querySelector(`[data-notice="${key}"]`)?.remove();
    if (el) {
      el.dataset.notice = key;
      this.notices.append(el);
    }
  }

  render(run: RunState): void {
    this.root.dataset.submission = run.submissionId;
    this.root.dataset.phase = run.phase;
    this.renderBanner(run);
    this.tick(run);
    this.renderTests(run);
    this.renderLive(run);
    this.renderAdvice(run);
    this.renderMetrics(run);
    this.renderLog(run);
  }

  /** The finished run's output, line by line with its time: what a click on a chart scrolls to. */
  private renderLog(run: RunState): void {
    if (!run.done() || run.output.length === 0) {
      this.logBox.replaceChildren();
      this.logged = null;
      return;
    }
    if (this.logged?.run === run) return;
    const lines = run.logLines();
    const pre = h(
      "div",
      { class: "run-log", "data-testid": "run-log", role: "log", tabindex: "0" },
      lines.map((l, i) =>
        h(
          "div",
          { class: `log-line${l.stream === "stderr" ? " stderr" : ""}`, "data-line": String(i), "data-t": String(l.t) },
          h("span", { class: "log-t" }, t("results.log_time", { s: num(l.t, 2) })),
          h("span", { class: "log-text" }, l.text),
        ),
      ),
    );
    this.logged = { run, lines, pre };
    fill(this.logBox, h("div", { class: "section-title" }, t("results.log")), h("div", { class: "faint log-help" }, t("results.log_help")), pre);
  }

  /** Scroll the log to the moment behind a chart click and mark that line. */
  private jumpToLog(pick: ChartPick): void {
    const logged = this.logged;
    if (!logged) return;
    const at = logged.run.logTarget(logged.lines, pick);
    const line = at >= 0 ? logged.pre.querySelector<HTMLElement>(`[data-line="${at}"]`) : null;
    for (const el of Array.from(logged.pre.querySelectorAll(".is-target"))) el.classList.remove("is-target");
    if (!line) return;
    line.classList.add("is-target");
    logged.pre.dataset.target = String(at);
    logged.pre.dataset.metric = pick.metric;
    logged.pre.scrollTop = line.offsetTop - logged.pre.offsetTop - logged.pre.clientHeight / 3;
    logged.pre.scrollIntoView({ block: "nearest" });
  }

  private renderBanner(run: RunState): void {
    const r = run.result;
    if (!r) {
      fill(this.banner, run.supersededBy !== null ? this.supersededBanner(run.supersededBy) : pendingBanner(run));
      return;
    }
    const title = r.status === "pass" ? t("results.pass") : r.status === "fail" ? t("results.fail") : t("results.error");
    const outcomeKey = `outcome.${r.outcome}` as MessageKey;
    const translated = t(outcomeKey);
    const outcome = translated === outcomeKey ? r.outcome : translated;
    // test outcomes get a localised count; other outcomes (compile error, timeout ...) keep the engine's message
    const passed = r.tests.filter((x) => x.status === "pass").length;
    const sub =
      (r.outcome === "ok" || r.outcome === "tests_failed") && r.tests.length > 0
        ? t("results.count", { passed, total: r.tests.length })
        : [outcome === title ? "" : outcome, localizeEngine(r.message)].filter(Boolean).join(" — ");
    fill(
      this.banner,
      h(
        "div",
        { class: `verdict is-${r.status}`, role: "status", "data-status": r.status, "data-outcome": r.outcome },
        h("div", { class: "icon" }, r.status === "pass" ? "✓" : r.status === "fail" ? "✗" : "!"),
        h("div", { class: "text" }, h("div", { class: "title" }, title), h("div", { class: "sub" }, sub)),
        r.maxScore > 0 ? h("div", { class: "score" }, `${num(r.score)} / ${num(r.maxScore)}`) : null,
      ),
    );
    const u = r.usage;
    this.usageBox.textContent =
      u.wallSeconds !== null
        ? t("results.usage", {
            wall: num(u.wallSeconds, 1),
            cpu: num(u.cpuSeconds ?? 0, 1),
            mem: u.maxRssBytes ? num(u.maxRssBytes / 2 ** 20, 0) : "–",
          })
        : "";
  }

  /** Keep the countdown of `run` current (every quarter second while it runs); null or a finished run stops it. */
  private tick(run: RunState | null): void {
    if (this.ticking && this.ticking.run !== run) {
      window.clearInterval(this.ticking.timer);
      this.ticking = null;
    }
    const callSeconds = this.callbacks.callSeconds ?? null;
    if (run === null || run.done()) {
      if (this.ticking) window.clearInterval(this.ticking.timer);
      this.ticking = null;
      this.countdown.hidden = true;
      return;
    }
    fillCountdown(this.countdown, run, callSeconds);
    if (!this.ticking) this.ticking = { run, timer: window.setInterval(() => fillCountdown(this.countdown, run, callSeconds), 250) };
  }

  /** A run a newer one replaced before it started. */
  private supersededBanner(newer: string): HTMLElement {
    const n = this.callbacks.attemptNumber?.(newer) ?? null;
    return h(
      "div",
      { class: "verdict is-superseded", "data-status": "superseded", "data-testid": "superseded" },
      h("div", { class: "icon" }, "↻"),
      h(
        "div",
        { class: "text" },
        h("div", { class: "title" }, t("results.superseded")),
        h("div", { class: "sub" }, n !== null ? t("results.superseded_by", { n }) : t("results.superseded_by_newer")),
      ),
    );
  }

  private renderTests(run: RunState): void {
    if (run.rows.size === 0) {
      this.tests.replaceChildren();
      return;
    }
    const anyHidden = [...run.rows.values()].some((r) => r.visibility === "hidden");
    // only the first visible failure opens by itself; the learner opens the rest (or keeps them open)
    const firstFailure = [...run.rows.values()].find((r) => (r.status === "fail" || r.status === "error") && r.visibility === "visible");
    const items = [...run.rows.values()].map((row) => this.testRow(row, row === firstFailure));
    fill(
      this.tests,
      h("div", { class: "section-title" }, t("module.results")),
      h("ul", { class: "test-list" }, items),
      anyHidden ? h("div", { class: "faint", style: "margin-top:6px" }, t("results.hidden_note")) : null,
    );
  }

  private testRow(row: Row, openByDefault: boolean): HTMLElement {
    const statusLabel = t(`status.${row.status}` as MessageKey);
    const head = [
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("span", { class: "name" }, row.name),
      row.visibility === "hidden" ? h("span", { class: "badge badge-hidden" }, t("results.hidden")) : null,
      row.step ? h("span", { class: "step", "data-step": row.step }, this.callbacks.stepLabel?.(row.step) ?? row.step) : null,
      h("span", { class: `badge badge-${row.status}` }, statusLabel),
      row.durationSeconds !== null ? h("span", { class: "dur" }, t("results.duration", { s: num(row.durationSeconds, 2) })) : null,
    ];
    // a hint is offered only where the test did not pass, and named by its step, never by its id
    const failed = row.status === "fail" || row.status === "error";
    const offerHint = failed && row.hint !== null;
    const hasBody = Boolean(row.message || row.output || offerHint);
    const attrs = { class: "test", "data-status": row.status, "data-visibility": row.visibility, "data-test-id": row.id };
    if (!hasBody) return h("li", attrs, h("div", { class: "row" }, ...head));
    const details = h("details", attrs, h("summary", {}, ...head));
    const hintLink = offerHint
      ? h(
          "button",
          { type: "button", class: "link-button hint-link", "data-testid": "hint-link" },
          row.step ? t("results.hint_for_step", { step: this.callbacks.stepLabel?.(row.step) ?? row.step }) : t("results.hint_module"),
        )
      : null;
    hintLink?.addEventListener("click", () => this.callbacks.onHint(row.step));
    details.append(
      h(
        "div",
        { class: "body" },
        row.message ? h("pre", { class: "message" }, row.message) : null,
        row.output ? h("div", {}, h("div", { class: "section-title" }, t("results.output")), h("pre", { class: "output" }, row.output)) : null,
        hintLink,
      ),
    );
    // the learner's own open/close choice wins over the default
    if (this.open.has(row.id) || (openByDefault && !this.open.has(`closed:${row.id}`))) {
      details.open = true;
    }
    details.addEventListener("toggle", () => {
      if (details.open) {
        this.open.add(row.id);
        this.open.delete(`closed:${row.id}`);
      } else {
        this.open.delete(row.id);
        this.open.add(`closed:${row.id}`);
      }
    });
    return details;
  }

  private renderLive(run: RunState): void {
    if (run.output.length === 0 || run.done()) {
      this.live.replaceChildren();
      return;
    }
    const pre = h(
      "pre",
      { class: "live-output", "data-testid": "live-output" },
      run.output.map((c) => (c.stream === "stderr" ? h("span", { class: "stderr" }, c.data) : c.data)),
    );
    fill(this.live, h("div", { class: "section-title" }, t("results.live_output")), pre);
    pre.scrollTop = pre.scrollHeight;
  }

  private renderAdvice(run: RunState): void {
    if (run.advice.length === 0) {
      this.adviceBox.replaceChildren();
      return;
    }
    fill(
      this.adviceBox,
      h("div", { class: "section-title" }, t("results.advice")),
      h(
        "ul",
        { class: "advice", "data-testid": "advice" },
        run.advice.map((a) => h("li", {}, richText(pick(a.text)))),
      ),
    );
  }

  private renderMetrics(run: RunState): void {
    const { scalars } = planCharts(run.metrics);
    if (scalars.length) {
      fill(
        this.metricsBox,
        h("div", { class: "section-title" }, t("results.metrics")),
        h(
          "table",
          { class: "metric-table" },
          h(
            "tbody",
            {},
            scalars.map((k) => {
              const v = run.metrics[k];
              return h("tr", {}, h("td", {}, k), h("td", {}, typeof v === "number" ? num(v, 4) : ""));
            }),
          ),
        ),
      );
    } else {
      this.metricsBox.replaceChildren();
    }
    // charts are redrawn only when the set of chart metrics changes, and only once the run is over
    if (!run.done()) return;
    const key = JSON.stringify(run.metrics);
    if (key === this.chartKey) return;
    this.chartKey = key;
    void renderMetricCharts(this.chartsBox, run.metrics, (pick) => this.jumpToLog(pick));
  }
}
