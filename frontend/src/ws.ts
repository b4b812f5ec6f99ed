/**
 * A reconnecting websocket for grading events (`/ws/grading/`).
 *
 * Design choices:
 * - Frames are decoded by `decodeFrame`; listeners get typed frames only.
 * - Reconnects with capped exponential backoff (0.5 s → 8 s) and re-sends every `subscribe` on each open. The
 *   server answers a subscription with the submission's stored events, so a reconnect re-reads the state of
 *   every followed submission: what was missed while disconnected arrives then (listeners de-duplicate by `seq`).
 * - The server answers each subscribe in order, with `subscribed` or an `error` frame (which does not name the
 *   submission); the client only sends subscribes, so an error answers the oldest unanswered one, and
 *   `onRejected` says which submission the server refused (unknown, someone else's).
 * - The connection state is exposed (`onStatus`) so the page can show "reconnecting" instead of going silent.
 */
import { decodeFrame, type ServerFrame } from "./decode";

export type SocketStatus = "connecting" | "open" | "closed";

export class GradingSocket {
  private socket: WebSocket | null = null;
  private readonly subscriptions = new Set<string>();
  /** Subscriptions sent on the current connection and not answered yet, oldest first. */
  private unanswered: string[] = [];
  private readonly frameListeners: ((frame: ServerFrame) => void)[] = [];
  private readonly statusListeners: ((status: SocketStatus) => void)[] = [];
  private readonly rejectedListeners: ((submissionId: string) => void)[] = [];
  private attempts = 0;
  private stopped = false;
  private timer: number | null = null;
  private current: SocketStatus = "closed";

  constructor(private readonly path = "/ws/grading/") {}

  /** The connection's state now. */
  get status(): SocketStatus {
    return this.current;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) window.clearTimeout(this.timer);
    this.socket?.close();
  }

  /** Follow `submissionId`: its events now, and a replay of its stored events on every (re)connect. */
  subscribe(submissionId: string): void {
    this.subscriptions.add(submissionId);
    this.sendSubscribe(submissionId);
  }

  /** Stop re-subscribing to `submissionId` on reconnects (its events still arrive while the socket is open). */
  unsubscribe(submissionId: string): void {
    this.subscriptions.delete(submissionId);
  }

  onFrame(listener: (frame: ServerFrame) => void): void {
    this.frameListeners.push(listener);
  }

  onStatus(listener: (status: SocketStatus) => void): void {
    this.statusListeners.push(listener);
  }

  /** Called with a submission id whose subscription the server refused. */
  onRejected(listener: (submissionId: string) => void): void {
    this.rejectedListeners.push(listener);
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
      this.unanswered = [];
      this.emitStatus("open");
      for (const id of this.subscriptions) this.sendSubscribe(id);
    });
    socket.addEventListener("message", (ev: MessageEvent) => {
      if (typeof ev.data !== "string") return;
      this.receive(decodeFrame(ev.data));
    });
    socket.addEventListener("close", () => {
      if (this.socket === socket) this.socket = null;
      this.unanswered = [];
      this.emitStatus("closed");
      if (!this.stopped) this.scheduleReconnect();
    });
  }

  private receive(frame: ServerFrame): void {
    if (frame.type === "subscribed") {
      this.unanswered = this.unanswered.filter((id) => id !== frame.submissionId);
    } else if (frame.type === "error") {
      const refused = this.unanswered.shift();
      if (refused !== undefined) {
        this.subscriptions.delete(refused);
        for (const l of this.rejectedListeners) l(refused);
      }
    }
    for (const l of this.frameListeners) l(frame);
  }

  private scheduleReconnect(): void {
    const delay = Math.min(8000, 500 * 2 ** this.attempts);
    this.attempts += 1;
    this.timer = window.setTimeout(() => this.connect(), delay);
  }

  private sendSubscribe(submissionId: string): void {
    if (this.socket?.readyState !== WebSocket.OPEN) return;
    this.socket.send(JSON.stringify({ type: "subscribe", submission_id: toWireId(submissionId) }));
    this.unanswered.push(submissionId);
  }

  private emitStatus(status: SocketStatus): void {
    this.current = status;
    for (const l of this.statusListeners) l(status);
  }
}

/** Submission ids travel as numbers on the wire when they look like numbers (the contract says int). */
function toWireId(id: string): string | number {
  return /^\d+$/.test(id) ? Number(id) : id;
}
