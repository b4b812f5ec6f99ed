import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { decodeFrame, decodeSubmission, decodeSubmissionList, type QueueInfo, type Submission } from "../src/api";
import { Follower, type Followed } from "../src/module/follow";
import { attemptNumber } from "../src/module/history";
import { queueText, ResultsView, RunState } from "../src/results";
import { GradingSocket } from "../src/ws";
import { FakeSocket } from "./fakesocket";
import { attempt, submissionDetail } from "./fixtures";

const ID = 7;

function queue(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { lane: "short", position: 3, learners_ahead: 2, waiting_for_own: false, next_run_replaces: false, cap: 2, ...overrides };
}

const queueFrame = (overrides: Record<string, unknown> = {}) => ({
  type: "grading.queue",
  submission_id: ID,
  status: "queued",
  queue: queue(),
  superseded_by: null,
  ...overrides,
});

const info = (overrides: Partial<QueueInfo> = {}): QueueInfo => ({
  lane: "short",
  position: 3,
  learnersAhead: 2,
  waitingForOwn: false,
  nextRunReplaces: false,
  cap: 2,
  ...overrides,
});

function harness(detail: Record<string, unknown> = submissionDetail({ status: "queued", result: null, events: [], advice: [] })) {
  const socket = new GradingSocket();
  const loads: string[] = [];
  /** The queue position each repaint showed. */
  const paints: (number | null)[] = [];
  const load = (id: string): Promise<Submission> => {
    loads.push(id);
    return Promise.resolve(decodeSubmission(detail));
  };
  const follower = new Follower(socket, load, (run) => paints.push(run.queue?.position ?? null));
  socket.start();
  return { follower, loads, paints };
}

function settled(promise: Promise<Followed>): { value: Followed | null } {
  const box: { value: Followed | null } = { value: null };
  void promise.then((v) => (box.value = v));
  return box;
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.instances = [];
  vi.stubGlobal("WebSocket", FakeSocket);
  document.documentElement.lang = "en";
});

afterEach(() => {
  vi.useRealTimers();
});

describe("queue frames and details", () => {
  it("decodes where a waiting run stands", () => {
    expect(decodeFrame(JSON.stringify(queueFrame({ queue: queue({ waiting_for_own: true, next_run_replaces: true }) })))).toEqual({
      type: "grading.queue",
      submissionId: "7",
      status: "queued",
      queue: info({ waitingForOwn: true, nextRunReplaces: true }),
      supersededBy: null,
    });
  });

  it("decodes a superseded run and what replaced it, in the detail and in lists", () => {
    const detail = decodeSubmission(submissionDetail({ status: "superseded", result: null, events: [], advice: [], superseded_by: 9 }));
    expect([detail.status, detail.supersededBy, detail.queue]).toEqual(["superseded", "9", null]);
    const [listed] = decodeSubmissionList({ submissions: [attempt({ status: "superseded", result: null, superseded_by: 9 })] });
    expect(listed?.supersededBy).toBe("9");
  });

  it("refuses a queue frame that breaks the contract", () => {
    expect(decodeFrame(JSON.stringify(queueFrame({ queue: queue({ position: 0 }) }))).type).toBe("invalid");
  });
});

describe("following a waiting run", () => {
  it("repaints with each new place in the queue and forgets it once the run starts", async () => {
    const { follower, paints, loads } = harness();
    FakeSocket.latest().open();
    settled(follower.follow(String(ID)));
    FakeSocket.latest().receive(queueFrame());
    FakeSocket.latest().receive(queueFrame()); // the same place again: no repaint
    FakeSocket.latest().receive(queueFrame({ queue: queue({ position: 1, learners_ahead: 0 }) }));
    await vi.advanceTimersByTimeAsync(0);
    expect(paints).toEqual([3, 1]);
    FakeSocket.latest().receive({ type: "grading.event", submission_id: ID, event: { type: "phase", seq: 0, t: 0, phase: "started" } });
    await vi.advanceTimersByTimeAsync(0);
    expect(follower.run?.queue).toBeNull();
    expect(loads).toEqual([]);
  });

  it("ends when a newer run supersedes it, with no verdict and nothing polled", async () => {
    const { follower, loads } = harness();
    FakeSocket.latest().open();
    const done = settled(follower.follow(String(ID)));
    FakeSocket.latest().receive(queueFrame());
    FakeSocket.latest().receive(queueFrame({ status: "superseded", queue: null, superseded_by: 9 }));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(done.value?.verdict).toBeNull();
    expect(done.value?.run.supersededBy).toBe("9");
    expect(done.value?.run.done()).toBe(true);
    expect(follower.run).toBeNull();
    expect(loads).toEqual([]);
  });

  it("learns from a polled detail that its run was superseded", async () => {
    const { follower } = harness(submissionDetail({ status: "superseded", result: null, events: [], advice: [], superseded_by: 9 }));
    FakeSocket.latest().open();
    const done = settled(follower.follow(String(ID)));
    FakeSocket.latest().receive({ type: "error", message: "no such submission" }); // refused: poll
    await vi.advanceTimersByTimeAsync(0);
    expect(done.value?.run.supersededBy).toBe("9");
  });
});

describe("the results banner while a run waits", () => {
  function banner(run: RunState, attemptOf: (id: string) => number | null = () => null): HTMLElement {
    const root = document.createElement("div");
    new ResultsView(root, { onHint: () => undefined, attemptNumber: attemptOf }).render(run);
    return root;
  }

  it("says how many other learners' runs start first", () => {
    const run = new RunState("7");
    run.applyQueue("queued", info(), null);
    const shown = banner(run).querySelector("[data-testid=queue]");
    expect(shown?.textContent).toBe("#3 in the tests queue: 2 other learners' runs start first.");
    expect(shown?.getAttribute("data-position")).toBe("3");
  });

  it("says a run waits for the learner's earlier one, and that running again replaces it", () => {
    const run = new RunState("7");
    run.applyQueue("queued", info({ position: 2, learnersAhead: 1, waitingForOwn: true, nextRunReplaces: true }), null);
    expect(banner(run).querySelector("[data-testid=queue]")?.textContent).toBe(
      "Waiting for your earlier run to finish first (#2 in the tests queue). " +
        "You have 2 runs waiting or running: running again replaces this waiting run.",
    );
  });

  it("says when a run is next", () => {
    expect(queueText(info({ position: 1, learnersAhead: 0, lane: "long" }))).toBe(
      "Next in the training queue: it starts as soon as a grader is free.",
    );
  });

  it("names the attempt that replaced a superseded run", () => {
    const run = new RunState("7");
    run.applyQueue("superseded", null, "9");
    const root = banner(run, (id) => (id === "9" ? 4 : null));
    expect(root.querySelector("[data-testid=superseded]")?.textContent).toContain(
      "This run was still waiting when attempt 4 replaced it, so it was never graded.",
    );
    expect(root.querySelector("[data-testid=queue]")).toBeNull();
  });

  it("numbers attempts as the attempts tab does", () => {
    const subs = [{ id: "12" }, { id: "9" }, { id: "4" }] as Submission[];
    expect([attemptNumber(subs, "4"), attemptNumber(subs, "12"), attemptNumber(subs, "5")]).toEqual([1, 3, null]);
  });
});
