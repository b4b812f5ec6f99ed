/**
 * Following one submission to its verdict.
 *
 * Design choices:
 * - The websocket carries the whole run: the engine's events as they happen, then one verdict frame with the
 *   result, the advice, the attempt, the module's progress and the modules it opened. While the socket is up
 *   nothing is polled.
 * - A dropped socket reconnects and re-subscribes; the server replays the run's stored events, which `RunState`
 *   de-duplicates by `seq`. Only when the socket stays down for `SOCKET_GRACE_MS`, when the server refuses the
 *   subscription, or when a frame of this run breaks the contract does the follower poll
 *   `GET /api/submissions/<id>/` (1.5 s, growing to 4 s) — and it stops polling once the socket is back.
 * - A run finished by polling has no verdict frame: `follow` resolves with `verdict: null` and the page re-reads
 *   what the frame would have told it.
 * - While the run waits, `grading.queue` frames (or the polled detail) say where it stands; one that says a newer
 *   run superseded it ends the follow too (`run.supersededBy`, no verdict).
 */
import type { ServerFrame, Submission, Verdict } from "../api";
import { RunState } from "../results";
import type { GradingSocket, SocketStatus } from "../ws";

/** How long the socket may stay down before the follower falls back to polling. */
export const SOCKET_GRACE_MS = 10_000;
const POLL_FIRST_MS = 1500;
const POLL_MAX_MS = 4000;

export interface Followed {
  run: RunState;
  /** The verdict frame's news; null when the run was finished by polling. */
  verdict: Verdict | null;
}

interface Current {
  run: RunState;
  resolve: (followed: Followed) => void;
  polling: "no" | "until-socket" | "until-done";
  pollTimer: number | null;
  pollDelay: number;
}

export class Follower {
  private current: Current | null = null;
  private graceTimer: number | null = null;

  constructor(
    private readonly socket: GradingSocket,
    private readonly load: (id: string) => Promise<Submission>,
    /** Called whenever the followed run changed (repaint). */
    private readonly changed: (run: RunState) => void,
  ) {
    socket.onFrame((frame) => this.frame(frame));
    socket.onStatus((status) => this.status(status));
    socket.onRejected((id) => {
      if (this.current?.run.submissionId === id) this.poll("until-done");
    });
  }

  /** Follow submission `id` until its verdict; a later `follow` abandons this one (its promise never settles). */
  follow(id: string): Promise<Followed> {
    this.stop();
    const run = new RunState(id);
    return new Promise((resolve) => {
      this.current = { run, resolve, polling: "no", pollTimer: null, pollDelay: POLL_FIRST_MS };
      this.socket.subscribe(id);
      if (this.socket.status !== "open") this.startGrace();
    });
  }

  /** The run being followed, if any. */
  get run(): RunState | null {
    return this.current?.run ?? null;
  }

  private frame(frame: ServerFrame): void {
    const current = this.current;
    if (!current) return;
    if (frame.type === "invalid" && frame.submissionId === current.run.submissionId) {
      console.warn(`grading socket: ${frame.message}`);
      this.poll("until-done");
      return;
    }
    if (frame.type === "grading.queue" && frame.submissionId === current.run.submissionId) {
      if (current.run.applyQueue(frame.status, frame.queue, frame.supersededBy)) this.changed(current.run);
      if (current.run.supersededBy !== null) this.finish(null);
      return;
    }
    if (frame.type !== "grading.event" || frame.submissionId !== current.run.submissionId) return;
    const event = frame.event;
    if (event.type === "verdict") current.run.advice = event.verdict.advice;
    if (current.run.apply(event)) this.changed(current.run);
    if (event.type === "verdict") this.finish(event.verdict);
  }

  private status(status: SocketStatus): void {
    if (!this.current) return;
    if (status === "open") {
      this.clearGrace();
      if (this.current.polling === "until-socket") this.stopPolling();
    } else {
      this.startGrace();
    }
  }

  private startGrace(): void {
    if (this.graceTimer !== null || this.current?.polling !== "no") return;
    this.graceTimer = window.setTimeout(() => {
      this.graceTimer = null;
      this.poll("until-socket");
    }, SOCKET_GRACE_MS);
  }

  private clearGrace(): void {
    if (this.graceTimer !== null) window.clearTimeout(this.graceTimer);
    this.graceTimer = null;
  }

  private poll(mode: "until-socket" | "until-done"): void {
    const current = this.current;
    if (!current) return;
    this.clearGrace();
    const wasPolling = current.polling !== "no";
    if (current.polling !== "until-done") current.polling = mode;
    if (!wasPolling) void this.tick(current);
  }

  private stopPolling(): void {
    const current = this.current;
    if (!current) return;
    current.polling = "no";
    if (current.pollTimer !== null) window.clearTimeout(current.pollTimer);
    current.pollTimer = null;
  }

  private async tick(current: Current): Promise<void> {
    current.pollTimer = null;
    try {
      const sub = await this.load(current.run.submissionId);
      if (this.current !== current || current.polling === "no") return;
      let changed = false;
      for (const e of sub.events) changed = current.run.apply(e) || changed;
      if (sub.result && !current.run.done()) {
        current.run.finish(sub.result);
        changed = true;
      }
      changed = current.run.applyQueue(sub.status, sub.queue, sub.supersededBy) || changed;
      current.run.advice = sub.advice;
      if (changed) this.changed(current.run);
    } catch {
      /* transient; try again */
    }
    if (this.current !== current || current.polling === "no") return;
    if (current.run.done()) {
      this.finish(null);
      return;
    }
    current.pollTimer = window.setTimeout(() => void this.tick(current), current.pollDelay);
    current.pollDelay = Math.min(POLL_MAX_MS, current.pollDelay * 1.3);
  }

  private finish(verdict: Verdict | null): void {
    const current = this.current;
    if (!current) return;
    this.stop();
    current.resolve({ run: current.run, verdict });
  }

  private stop(): void {
    const current = this.current;
    if (!current) return;
    this.stopPolling();
    this.clearGrace();
    this.socket.unsubscribe(current.run.submissionId);
    this.current = null;
  }
}
