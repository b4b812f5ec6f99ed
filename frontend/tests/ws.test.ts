import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ServerFrame } from "../src/api";
import { GradingSocket, type SocketStatus } from "../src/ws";
import { FakeSocket } from "./fakesocket";

const EVENT = { type: "phase", seq: 0, t: 0.1, phase: "tests_collected", count: 2 };

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.instances = [];
  vi.stubGlobal("WebSocket", FakeSocket);
});

afterEach(() => {
  vi.useRealTimers();
});

function started(): { socket: GradingSocket; statuses: SocketStatus[]; frames: ServerFrame[]; rejected: string[] } {
  const socket = new GradingSocket();
  const statuses: SocketStatus[] = [];
  const frames: ServerFrame[] = [];
  const rejected: string[] = [];
  socket.onStatus((s) => statuses.push(s));
  socket.onFrame((f) => frames.push(f));
  socket.onRejected((id) => rejected.push(id));
  socket.start();
  return { socket, statuses, frames, rejected };
}

describe("GradingSocket", () => {
  it("connects to the page's host with the ws scheme", () => {
    started();
    expect(FakeSocket.latest().url).toBe("ws://lab.test/ws/grading/");
  });

  it("sends a subscription made before the socket opened once it opens, with a numeric id", () => {
    const { socket } = started();
    socket.subscribe("42");
    FakeSocket.latest().open();
    expect(FakeSocket.latest().sent).toEqual([{ type: "subscribe", submission_id: 42 }]);
  });

  it("reconnects after a drop and subscribes again to everything it follows", () => {
    const { socket, statuses } = started();
    FakeSocket.latest().open();
    socket.subscribe("7");
    FakeSocket.latest().drop();
    expect(statuses).toEqual(["connecting", "open", "closed"]);
    vi.advanceTimersByTime(499);
    expect(FakeSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.instances).toHaveLength(2);
    FakeSocket.latest().open();
    expect(FakeSocket.latest().sent).toEqual([{ type: "subscribe", submission_id: 7 }]);
    expect(socket.status).toBe("open");
  });

  it("backs off exponentially up to 8 s while the server stays away, and starts over once it is back", () => {
    started();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const before = FakeSocket.instances.length;
      FakeSocket.latest().drop();
      let waited = 0;
      while (FakeSocket.instances.length === before) {
        vi.advanceTimersByTime(100);
        waited += 100;
      }
      delays.push(waited);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
    FakeSocket.latest().open();
    FakeSocket.latest().drop();
    vi.advanceTimersByTime(500);
    expect(FakeSocket.latest().readyState).toBe(FakeSocket.CONNECTING);
  });

  it("names the submission whose subscription the server refused", () => {
    const { socket, rejected } = started();
    FakeSocket.latest().open();
    socket.subscribe("1");
    socket.subscribe("2");
    FakeSocket.latest().receive({ type: "subscribed", submission_id: 1, status: "running" });
    FakeSocket.latest().receive({ type: "error", message: "no such submission" });
    expect(rejected).toEqual(["2"]);
    FakeSocket.latest().receive({ type: "error", message: "unknown frame type" });
    expect(rejected).toEqual(["2"]);
  });

  it("does not subscribe again to a refused submission or after unsubscribe", () => {
    const { socket } = started();
    FakeSocket.latest().open();
    for (const id of ["1", "2", "3"]) socket.subscribe(id);
    FakeSocket.latest().receive({ type: "subscribed", submission_id: 1, status: "running" });
    FakeSocket.latest().receive({ type: "error", message: "no such submission" }); // refuses 2
    socket.unsubscribe("3");
    FakeSocket.latest().drop();
    vi.advanceTimersByTime(500);
    FakeSocket.latest().open();
    expect(FakeSocket.latest().sent).toEqual([{ type: "subscribe", submission_id: 1 }]);
  });

  it("hands listeners decoded frames", () => {
    const { frames } = started();
    FakeSocket.latest().open();
    FakeSocket.latest().receive({ type: "grading.event", submission_id: 3, event: EVENT });
    FakeSocket.latest().receive("{not json");
    expect(frames[0]).toMatchObject({ type: "grading.event", submissionId: "3", event: { type: "phase", phase: "tests_collected", count: 2 } });
    expect(frames[1]).toMatchObject({ type: "invalid", submissionId: null });
  });

  it("stays closed after stop()", () => {
    const { socket } = started();
    FakeSocket.latest().open();
    socket.stop();
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });
});
