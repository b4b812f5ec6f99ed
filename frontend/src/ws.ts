/**
 * A reconnecting websocket for grading events (`/ws/grading/`).
 *
 * Design choices:
 * - Frames are decoded by `api.decodeFrame`; listeners get typed frames only.
 * - Reconnects with capped exponential backoff (0.5 s → 8 s) and re-sends every `subscribe` on each open, so
 *   a submission being watched keeps streaming after a drop. Events missed while disconnected are recovered
 *   by the page, which re-reads `GET /api/submissions/<id>/` on `onReconnect` and deduplicates by `seq`.
 * - The connection state is exposed (`onStatus`) so the page can show "reconnecting" instead of going silent.
 */
import { decodeFrame, type ServerFrame } from "./api";

export type SocketStatus = "connecting" | "open" | "closed";

export class GradingSocket {
  private socket: WebSocket | null = null;
  private readonly subscriptions = new Set<string>();
  private readonly frameListeners: ((frame: ServerFrame) => void)[] = [];
  private readonly statusListeners: ((status: SocketStatus) => void)[] = [];
  private readonly reconnectListeners: (() => void)[] = [];
  private attempts = 0;
  private everOpened = false;
  private stopped = false;
  private timer: number | null = null;

  constructor(private readonly path: string = "/ws/grading/") {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) window.clearTimeout(this.timer);
    this.socket?.close();
  }

  subscribe(submissionId: string): void {
    this.subscriptions.add(submissionId);
    this.send({ type: "subscribe", submission_id: toWireId(submissionId) });
  }

  onFrame(listener: (frame: ServerFrame) => void): void {
    this.frameListeners.push(listener);
  }

  onStatus(listener: (status: SocketStatus) => void): void {
    this.statusListeners.push(listener);
  }

  /** Called after a dropped connection is back (not on the first open). */
  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  private url(): string {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${window.location.host}${this.path}`;
  }

  private connect(): void {
    this.emitStatus("connecting");
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempts = 0;
      for (const id of this.subscriptions) this.send({ type: "subscribe", submission_id: toWireId(id) });
      this.emitStatus("open");
      if (this.everOpened) for (const l of this.reconnectListeners) l();
      this.everOpened = true;
    });
    socket.addEventListener("message", (ev: MessageEvent) => {
      if (typeof ev.data !== "string") return;
      const frame = decodeFrame(ev.data);
      for (const l of this.frameListeners) l(frame);
    });
    socket.addEventListener("close", () => {
      if (this.socket === socket) this.socket = null;
      this.emitStatus("closed");
      if (!this.stopped) this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    const delay = Math.min(8000, 500 * 2 ** this.attempts);
    this.attempts += 1;
    this.timer = window.setTimeout(() => this.connect(), delay);
  }

  private send(message: Record<string, unknown>): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private emitStatus(status: SocketStatus): void {
    for (const l of this.statusListeners) l(status);
  }
}

/** Submission ids travel as numbers on the wire when they look like numbers (the contract says int). */
function toWireId(id: string): string | number {
  return /^\d+$/.test(id) ? Number(id) : id;
}
