import { describe, expect, it } from "vitest";
import { pickOf, planCharts, ratioText } from "../src/charts";
import type { EngineEvent } from "../src/api";
import { RunState } from "../src/results";

const TEST = "visible/test_train.py::test_loss_goes_down";

function trainingRun(): RunState {
  const run = new RunState("1");
  const events: EngineEvent[] = [
    { type: "test_started", seq: 0, t: 1, id: TEST, name: "test_loss_goes_down", step: "step1", visibility: "visible" },
    { type: "output", seq: 1, t: 1.5, stream: "stdout", testId: TEST, data: "step 0 | loss 4.0\nstep 1 | " },
    { type: "output", seq: 2, t: 2.5, stream: "stdout", testId: TEST, data: "loss 3.0\nstep 2 | loss 2.5\n" },
    { type: "output", seq: 3, t: 3.5, stream: "stdout", testId: TEST, data: "step 3 | loss 2.2\n" },
    { type: "metric", seq: 4, t: 3.6, name: "train_loss", value: [4, 3, 2.5, 2.2] },
    {
      type: "test_finished",
      seq: 40,
      t: 3.7,
      test: {
        id: TEST,
        name: "test_loss_goes_down",
        step: "step1",
        status: "pass",
        message: "",
        output: "",
        durationSeconds: 2.7,
        visibility: "visible",
        hint: null,
      },
    },
    { type: "output", seq: 5, t: 4, stream: "stdout", testId: null, data: "between tests\n" },
    { type: "metric", seq: 6, t: 4.1, name: "d20_params", value: 5 },
  ];
  for (const e of events) run.apply(e);
  return run;
}

describe("the interactive run log", () => {
  it("splits output chunks into lines that keep their time and test", () => {
    const lines = trainingRun().logLines();
    expect(lines.map((l) => l.text)).toEqual(["step 0 | loss 4.0", "step 1 | loss 3.0", "step 2 | loss 2.5", "step 3 | loss 2.2", "between tests"]);
    expect(lines[1]?.t).toBe(1.5);
    expect(lines[4]?.testId).toBeNull();
  });

  it("maps each point of a curve onto the line its test printed for that step", () => {
    const run = trainingRun();
    const lines = run.logLines();
    for (let i = 0; i < 4; i++) expect(run.logTarget(lines, { metric: "train_loss", index: i, count: 4 })).toBe(i);
  });

  it("maps a value recorded outside any test to the last line printed before it", () => {
    const run = trainingRun();
    expect(run.logTarget(run.logLines(), { metric: "d20_params", index: 0, count: 1 })).toBe(4);
    expect(run.logTarget(run.logLines(), { metric: "never_recorded", index: 0, count: 1 })).toBe(-1);
  });
});

describe("the performance comparison", () => {
  it("draws one chart per baseline/optimized pair, titled with the ratio", () => {
    const { charts, scalars } = planCharts({
      forward_calls_baseline: 36,
      forward_calls_optimized: 9,
      train_seconds_baseline: 12.5,
      train_seconds_optimized: 0.5,
      lonely_baseline: 3,
    });
    expect(charts.map((c) => c.title)).toEqual(["forward_calls · 4.0×", "train_seconds · 25×"]);
    expect(scalars).toEqual(["lonely_baseline"]);
    expect(ratioText(0, 3)).toBe("");
  });
});

describe("chart clicks", () => {
  const metrics = {
    train_loss: [4, 3, 2.5, 2.2],
    tokens_per_s_baseline: 10,
    tokens_per_s_optimized: 40,
    "heatmap/throughput": [1, 2, 3, 4],
    "heatmap_x/throughput": [16, 32],
    "heatmap_y/throughput": [1, 2],
  };
  const { charts } = planCharts(metrics);

  it("labels a heatmap's axes from its companion series and leaves them out of the other charts", () => {
    const heat = charts.find((c) => c.kind === "heatmap");
    expect(heat).toMatchObject({
      metric: "heatmap/throughput",
      z: [
        [1, 2],
        [3, 4],
      ],
      x: ["16", "32"],
      y: ["1", "2"],
    });
    const names = charts.flatMap((c) => (c.kind === "lines" ? c.series.map((s) => s.name) : []));
    expect(names).toEqual(["train_loss"]);
  });

  it("names the metric value behind a point, a bar and a heatmap cell", () => {
    const lines = charts.find((c) => c.kind === "lines");
    const bars = charts.find((c) => c.kind === "bars");
    const heat = charts.find((c) => c.kind === "heatmap");
    if (!lines || !bars || !heat) throw new Error("charts missing");
    expect(pickOf(lines, { points: [{ pointIndex: 2, data: { meta: "train_loss" } }] }, metrics)).toEqual({
      metric: "train_loss",
      index: 2,
      count: 4,
    });
    expect(pickOf(bars, { points: [{ pointIndex: 0, data: { meta: "baseline" } }] }, metrics)).toEqual({
      metric: "tokens_per_s_baseline",
      index: 0,
      count: 1,
    });
    expect(pickOf(bars, { points: [{ pointIndex: 0, data: { meta: "optimized" } }] }, metrics)).toEqual({
      metric: "tokens_per_s_optimized",
      index: 0,
      count: 1,
    });
    expect(pickOf(heat, { points: [{ pointNumber: [1, 0], data: { meta: "heatmap/throughput" } }] }, metrics)).toEqual({
      metric: "heatmap/throughput",
      index: 2,
      count: 4,
    });
    expect(pickOf(lines, { points: [] }, metrics)).toBeNull();
  });
});
