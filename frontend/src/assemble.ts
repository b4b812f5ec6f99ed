/**
 * The assemble page ("assemble your own nanochat"): start a stage's run, follow it live, chat with the result.
 *
 * Design choices:
 * - The page is server-rendered (stage cards, the modules each needs, the buttons): this entry adds behaviour.
 *   The runs' progress and loss points arrive on the grading websocket as `assemble.event` frames (decoded by
 *   `decodeFrame`); a page opened mid-run starts from the run the page data carries.
 * - The loss curve is drawn with the results pane's chart code (`renderMetricCharts`), one line per pipeline step.
 * - Replies of the learner's model and the reference's are shown side by side, as plain text. Asking queues the
 *   prompt (202 and an id); each side's text so far arrives as `reply` events and grows in place, then `reply_end`
 *   says both answers are saved and the page reads them (`GET /api/assemble/replies/<id>/`). If the socket misses
 *   the end, a slow poll of the same address finishes the exchange.
 */
import { api, ApiError, readPageData, type AssembleEvent, type AssembleReply, type AssembleRun, type MetricValue } from "./api";
import { renderMetricCharts } from "./charts";
import { boot } from "./page";
import { t } from "./i18n";
import { GradingSocket } from "./ws";

boot();

type Loss = Record<string, { x: number[]; y: number[] }>;

/** How often the page asks for a reply whose end the socket has not brought (ms). */
const REPLY_POLL_MS = 5000;

class StageCard {
  private loss: Loss = {};
  private runId: string | null = null;
  private redraw: number | null = null;
  /** The chart being drawn: drawing is asynchronous (Plotly loads lazily), so draws run one after another. */
  private drawing: Promise<unknown> = Promise.resolve();
  /** The reply being answered, and the timer of its fallback poll. */
  private replyId: number | null = null;
  private replyPoll: number | null = null;

  constructor(
    readonly stage: string,
    private readonly root: HTMLElement,
  ) {
    root.querySelector<HTMLButtonElement>("[data-assemble-start]")?.addEventListener("click", () => void this.start());
    root.querySelector<HTMLFormElement>("[data-assemble-chat]")?.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.ask();
    });
  }

  private el(selector: string): HTMLElement {
    const found = this.root.querySelector<HTMLElement>(selector);
    if (!found) throw new Error(`assemble page: ${selector} missing`);
    return found;
  }

  private bar(): HTMLProgressElement {
    const found = this.el("[data-assemble-progress]");
    if (!(found instanceof HTMLProgressElement)) throw new Error("assemble page: no progress bar");
    return found;
  }

  private prompt(): HTMLInputElement {
    const found = this.el("input[name=prompt]");
    if (!(found instanceof HTMLInputElement)) throw new Error("assemble page: no prompt");
    return found;
  }

  show(run: AssembleRun): void {
    this.runId = String(run.id);
    this.loss = {};
    for (const [name, series] of Object.entries(run.loss)) this.loss[name] = { x: [...series.x], y: [...series.y] };
    this.el("[data-assemble-run]").hidden = false;
    this.status(run.status, run.progress, run.step, run.message, run.wall_seconds, run.cpu_seconds, run.lane);
    this.scheduleChart();
  }

  private status(status: string, progress: number, step: string, message: string, wall?: number | null, cpu?: number | null, lane = "long"): void {
    const bar = this.bar();
    bar.value = Math.round(100 * progress);
    const text = this.el("[data-assemble-status]");
    this.root.dataset.status = status;
    const button = this.root.querySelector<HTMLButtonElement>("[data-assemble-start]");
    if (button) button.disabled = status === "queued" || status === "running";
    if (status === "queued") text.textContent = t("assemble.queued", { lane });
    else if (status === "running") text.textContent = t("assemble.running", { step: step || "…", pct: bar.value });
    else if (status === "done") {
      text.textContent = t("assemble.done", { wall: Math.round(wall ?? 0), cpu: Math.round(cpu ?? 0) });
      this.el("[data-assemble-chat]").hidden = false;
    } else text.textContent = t("assemble.failed", { message });
  }

  onEvent(runId: string, event: AssembleEvent): void {
    if (event.type === "reply" || event.type === "reply_end") {
      this.onReply(event);
      return;
    }
    if (this.runId !== null && runId !== this.runId) return;
    this.runId = runId;
    this.el("[data-assemble-run]").hidden = false;
    const bar = this.bar();
    if (event.type === "progress" && event.fraction !== undefined) {
      this.status("running", event.fraction, event.stage ?? "", "");
    } else if (event.type === "metric" && event.series && event.x !== undefined && event.y !== undefined) {
      const series = (this.loss[event.series] ??= { x: [], y: [] });
      series.x.push(event.x);
      series.y.push(event.y);
      this.scheduleChart();
    } else if (event.type === "status" && event.status) {
      this.status(event.status, bar.value / 100, "", "");
    } else if (event.type === "end" && event.status) {
      void this.refresh();
    }
  }

  private async refresh(): Promise<void> {
    const stages = (await fetch("/api/assemble/", { credentials: "same-origin" }).then((r) => r.json())) as {
      stages: { stage: string; run: AssembleRun | null }[];
    };
    const mine = stages.stages.find((s) => s.stage === this.stage);
    if (mine?.run) this.show(mine.run);
  }

  private scheduleChart(): void {
    if (this.redraw !== null) return;
    this.redraw = window.setTimeout(() => {
      this.redraw = null;
      const metrics: Record<string, MetricValue> = {};
      for (const [name, series] of Object.entries(this.loss)) {
        const step = name.replace(/^loss\//, "");
        metrics[name] = { x: series.x, y: series.y, title: t("assemble.loss", { step }), xLabel: t("assemble.step") };
      }
      const host = this.el("[data-assemble-chart]");
      this.drawing = this.drawing.catch(() => undefined).then(() => renderMetricCharts(host, metrics));
    }, 300);
  }

  private async start(): Promise<void> {
    try {
      this.show(await api.assemble(this.stage));
    } catch (err) {
      this.el("[data-assemble-run]").hidden = false;
      this.el("[data-assemble-status]").textContent =
        err instanceof ApiError && err.status === 409 ? t("assemble.busy") : err instanceof Error ? err.message : String(err);
    }
  }

  private async ask(): Promise<void> {
    const input = this.prompt();
    const status = this.el("[data-assemble-chat-status]");
    status.textContent = t("assemble.thinking");
    for (const side of ["mine", "reference"] as const) {
      const pre = this.el(`[data-assemble-${side}]`);
      pre.textContent = "";
      delete pre.dataset.ok;
    }
    try {
      const reply = await api.assembleReply(this.stage, input.value);
      this.replyId = reply.id;
      this.pollReply(reply.id);
    } catch (err) {
      status.textContent =
        err instanceof ApiError && err.status === 409 ? t("assemble.reply_busy") : err instanceof Error ? err.message : String(err);
    }
  }

  private onReply(event: AssembleEvent): void {
    if (event.reply_id === undefined || event.reply_id !== this.replyId) return;
    if (event.type === "reply" && event.side && event.text !== undefined) {
      this.el(`[data-assemble-${event.side}]`).textContent = event.text;
    } else if (event.type === "reply_end") {
      void this.finishReply(event.reply_id);
    }
  }

  /** The fallback: read the reply now and then until it is done (the socket usually ends it first). */
  private pollReply(id: number): void {
    if (this.replyPoll !== null) window.clearTimeout(this.replyPoll);
    this.replyPoll = window.setTimeout(() => {
      this.replyPoll = null;
      if (this.replyId === id) void this.finishReply(id);
    }, REPLY_POLL_MS);
  }

  private async finishReply(id: number): Promise<void> {
    let reply: AssembleReply;
    try {
      reply = await api.assembleReplyGet(id);
    } catch {
      this.pollReply(id);
      return;
    }
    if (this.replyId !== id) return;
    if (reply.status === "queued" || reply.status === "running") {
      this.pollReply(id);
      return;
    }
    this.replyId = null;
    if (this.replyPoll !== null) window.clearTimeout(this.replyPoll);
    this.replyPoll = null;
    for (const side of ["mine", "reference"] as const) {
      const answer = reply[side];
      const pre = this.el(`[data-assemble-${side}]`);
      pre.textContent = answer?.ok ? answer.text : t("assemble.no_answer", { message: answer?.message ?? "" });
      pre.dataset.ok = answer?.ok ? "1" : "0";
    }
    this.el("[data-assemble-chat-status]").textContent = "";
    this.root.dataset.replied = "1";
  }
}

const cards = new Map<string, StageCard>();
for (const root of document.querySelectorAll<HTMLElement>("[data-stage]")) {
  cards.set(root.dataset.stage ?? "", new StageCard(root.dataset.stage ?? "", root));
}
const data = readPageData() as { stages?: { stage: string; run: AssembleRun | null }[] };
for (const stage of data.stages ?? []) {
  if (stage.run) cards.get(stage.stage)?.show(stage.run);
}
const socket = new GradingSocket();
socket.onFrame((frame) => {
  if (frame.type === "assemble.event") cards.get(frame.stage)?.onEvent(frame.runId, frame.event);
});
socket.start();
