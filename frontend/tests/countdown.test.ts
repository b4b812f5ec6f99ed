import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ResultsView, RunState } from "../src/results";

const started = (seq: number, t: number, name: string) => ({
  type: "test_started" as const,
  seq,
  t,
  id: `visible/test_x.py::${name}`,
  name,
  step: "step1",
  visibility: "visible" as const,
});

describe("the countdown of a long test", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    document.documentElement.lang = "en";
  });
  afterEach(() => vi.useRealTimers());

  function view(run: RunState, callSeconds: number | null): HTMLElement {
    const root = document.createElement("div");
    new ResultsView(root, { onHint: () => undefined, callSeconds }).render(run);
    return root.querySelector<HTMLElement>("[data-testid=countdown]") as HTMLElement;
  }

  it("stays hidden for a short test, then counts the running test's seconds against the per-call limit", () => {
    const run = new RunState("7");
    run.apply(started(0, 2.0, "test_slow"));
    const box = view(run, 10);
    expect(box.hidden).toBe(true);
    vi.advanceTimersByTime(3300); // the page's clock carries the events' run time on
    expect(box.hidden).toBe(false);
    expect(box.dataset.elapsed).toBe("3");
    expect(box.textContent).toBe("test_slow: 3 s so far — 7 s left of the 10 s one call into your code may take");
    expect(box.querySelector("[role=progressbar]")?.getAttribute("aria-valuenow")).toBe("3");
  });

  it("says a test past the limit calls the learner's code more than once, and stops once the run is over", () => {
    const run = new RunState("7");
    run.apply(started(0, 0.5, "test_many_calls"));
    const box = view(run, 2);
    vi.advanceTimersByTime(2600);
    expect(box.textContent).toContain("it calls your code several times; each call may take up to 2 s");
    run.apply({ type: "phase", seq: 1, t: 3.2, phase: "finished", count: null });
    expect(run.runningTest()).not.toBeNull();
    run.supersededBy = "8"; // over without a result
    expect(run.runningTest()).toBeNull();
  });

  it("times the latest test that started, from the run time of the events", () => {
    const run = new RunState("7");
    run.apply(started(0, 0.1, "test_a"));
    run.apply(started(1, 4.0, "test_b"));
    vi.advanceTimersByTime(1500);
    const running = run.runningTest();
    expect(running?.name).toBe("test_b");
    expect(running?.elapsed).toBeCloseTo(1.5, 1);
  });
});
