import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { decodeSubmission, type Submission } from "../src/api";
import { Follower, SOCKET_GRACE_MS, type Followed } from "../src/module/follow";
import type { RunState } from "../src/results";
import { GradingSocket } from "../src/ws";
import { FakeSocket } from "./fakesocket";
import { submissionDetail, testResult, verdictEvent } from "./fixtures";

const ID = 7;
const phase = { type: "phase", seq: 0, t: 0, phase: "started" };
const started = {
  type: "test_started",
  seq: 1,
  t: 0.1,
  id: "visible/test_hello.py::test_greet",
  name: "test_greet",
  step: "step1",
  visibility: "visible",
};
const finished = { type: "test_finished", seq: 2, t: 0.2, test: testResult() };
const verdict = verdictEvent({ seq: 3 });

const frame = (event: Record<string, unknown>) => ({ type: "grading.event", submission_id: ID, event });

interface Harness {
  follower: Follower;
  loads: string[];
  paints: RunState[];
  /** What `GET /api/submissions/7/` answers next. */
  answer: (body: Record<string, unknown>) => void;
}

function harness(): Harness {
  const socket = new GradingSocket();
  const loads: string[] = [];
  const paints: RunState[] = [];
  let body: Record<string, unknown> = submissionDetail({ status: "running", result: null, events: [], advice: [] });
  const load = (id: string): Promise<Submission> => {
    loads.push(id);
    return Promise.resolve(decodeSubmission(body));
  };
  const follower = new Follower(socket, load, (run) => paints.push(run));
  socket.start();
  return { follower, loads, paints, answer: (next) => (body = next) };
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
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
});

afterEach(() => {
  vi.useRealTimers();
});

describe("Follower", () => {
  it("follows a run over the socket alone and resolves with the verdict's news", async () => {
    const { follower, loads, paints } = harness();
    FakeSocket.latest().open();
    const done = settled(follower.follow(String(ID)));
    expect(FakeSocket.latest().sent).toEqual([{ type: "subscribe", submission_id: ID }]);
    for (const event of [phase, started, finished, verdict]) FakeSocket.latest().receive(frame(event));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(done.value?.run.done()).toBe(true);
    expect(done.value?.run.advice.map((a) => a.id)).toEqual(["greet"]);
    expect(done.value?.verdict?.progress.state).toBe("passed");
    expect(done.value?.verdict?.unlocked.map((m) => m.slug)).toEqual(["02-next"]);
    expect(paints).toHaveLength(4);
    expect(loads).toEqual([]);
  });

  it("ignores other submissions' frames", async () => {
    const { follower, paints } = harness();
    FakeSocket.latest().open();
    const done = settled(follower.follow(String(ID)));
    FakeSocket.latest().receive({ type: "grading.event", submission_id: 8, event: verdict });
    await vi.advanceTimersByTimeAsync(0);
    expect(paints).toEqual([]);
    expect(done.value).toBeNull();
  });

  it("re-subscribes after a drop and takes the replay without repainting what it had", async () => {
    const { follower, loads, paints } = harness();
    FakeSocket.latest().open();
    const done = settled(follower.follow(String(ID)));
    FakeSocket.latest().receive(frame(phase));
    FakeSocket.latest().receive(frame(started));
    FakeSocket.latest().drop();
    await vi.advanceTimersByTimeAsync(500);
    FakeSocket.latest().open();
    expect(FakeSocket.latest().sent).toEqual([{ type: "subscribe", submission_id: ID }]);
    FakeSocket.latest().receive({ type: "subscribed", submission_id: ID, status: "done" });
    for (const event of [phase, started, finished, verdict]) FakeSocket.latest().receive(frame(event));
    await vi.advanceTimersByTimeAsync(0);
    expect(paints).toHaveLength(4); // phase, started, then finished and verdict from the replay
    expect(done.value?.verdict).not.toBeNull();
    expect(loads).toEqual([]);
  });

  it(`polls the submission once the socket has been down for ${SOCKET_GRACE_MS / 1000} s, and stops when it is back`, async () => {
    const { follower, loads } = harness();
    FakeSocket.latest().open();
    settled(follower.follow(String(ID)));
    FakeSocket.latest().drop();
    for (let t = 0; t < SOCKET_GRACE_MS - 100; t += 100) {
      await vi.advanceTimersByTimeAsync(100);
      if (FakeSocket.latest().readyState === FakeSocket.CONNECTING) FakeSocket.latest().drop();
    }
    expect(loads).toEqual([]);
    await vi.advanceTimersByTimeAsync(100);
    expect(loads).toEqual(["7"]);
    await vi.advanceTimersByTimeAsync(1500);
    expect(loads).toHaveLength(2);
    while (FakeSocket.latest().readyState !== FakeSocket.CONNECTING) await vi.advanceTimersByTimeAsync(100);
    const polled = loads.length;
    FakeSocket.latest().open();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(loads).toHaveLength(polled);
  });

  it("finishes by polling when the server refuses the subscription, with no verdict news", async () => {
    const { follower, loads, answer } = harness();
    FakeSocket.latest().open();
    const done = settled(follower.follow(String(ID)));
    FakeSocket.latest().receive({ type: "error", message: "no such submission" });
    await vi.advanceTimersByTimeAsync(0);
    expect(loads).toEqual(["7"]);
    answer(submissionDetail());
    await vi.advanceTimersByTimeAsync(1500);
    expect(done.value?.verdict).toBeNull();
    expect(done.value?.run.result?.status).toBe("pass");
    expect(done.value?.run.advice.map((a) => a.id)).toEqual(["greet"]);
  });

  it("falls back to polling when a frame of this run breaks the contract", async () => {
    const { follower, loads } = harness();
    FakeSocket.latest().open();
    settled(follower.follow(String(ID)));
    FakeSocket.latest().receive(frame({ type: "verdict", seq: 3, result: {} }));
    await vi.advanceTimersByTimeAsync(0);
    expect(loads).toEqual(["7"]);
  });

  it("forgets a finished run: a reconnect does not subscribe to it again", async () => {
    const { follower } = harness();
    FakeSocket.latest().open();
    settled(follower.follow(String(ID)));
    FakeSocket.latest().receive(frame(verdict));
    FakeSocket.latest().drop();
    await vi.advanceTimersByTimeAsync(500);
    FakeSocket.latest().open();
    expect(FakeSocket.latest().sent).toEqual([]);
    expect(follower.run).toBeNull();
  });
});
