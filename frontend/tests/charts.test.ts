import { afterEach, describe, expect, it } from "vitest";
import { planCharts } from "../src/charts";

const series = {
  y: [1, 1.2, 1.4],
  x: [0, 16, 48],
  title: { en: "Bytes per token", zh: "每 token 字节数" },
  xLabel: { en: "merges", zh: "合并次数" },
};

describe("planCharts", () => {
  afterEach(() => {
    document.documentElement.lang = "";
  });

  it("plots a series against its own x values with the module's title and x label", () => {
    const { charts, scalars } = planCharts({ bytes_per_token: series, compression_ratio: 1.4 });
    expect(scalars).toEqual(["compression_ratio"]);
    expect(charts).toEqual([
      { kind: "lines", title: "Bytes per token", xLabel: "merges", series: [{ name: "bytes_per_token", x: [0, 16, 48], values: [1, 1.2, 1.4] }] },
    ]);
  });

  it("speaks the page language: the series' own title and the generic chart titles", () => {
    document.documentElement.lang = "zh-hans";
    const { charts } = planCharts({ bytes_per_token: series, train_loss: [3, 2], t_baseline: 2, t_optimized: 1 });
    expect(charts.map((c) => c.title)).toEqual(["损失", "每 token 字节数", "t · 2.0×"]);
    expect(charts[0]).toMatchObject({ kind: "lines", xLabel: "步", series: [{ name: "train_loss", x: null, values: [3, 2] }] });
  });

  it("keeps a lone loss curve's own title and x label, and shares one loss chart among several", () => {
    const capstone = { y: [5, 2, 0.5], x: [1, 2, 3], title: { en: "Capstone SFT loss", zh: "结业项目 SFT 损失" }, xLabel: { en: "step", zh: "步" } };
    expect(planCharts({ capstone_loss: capstone }).charts).toEqual([
      { kind: "lines", title: "Capstone SFT loss", xLabel: "step", series: [{ name: "capstone_loss", x: [1, 2, 3], values: [5, 2, 0.5] }] },
    ]);
    document.documentElement.lang = "zh-hans";
    expect(planCharts({ capstone_loss: capstone }).charts[0]).toMatchObject({ title: "结业项目 SFT 损失", xLabel: "步" });
    const both = planCharts({
      capstone_loss: capstone,
      val_loss: { y: [3, 2], x: null, title: null, xLabel: { en: "tokens", zh: "token 数" } },
    }).charts;
    expect(both).toHaveLength(1);
    expect(both[0]).toMatchObject({ title: "损失", xLabel: "步" }); // two x labels: the generic one
    expect(both[0]?.kind === "lines" && both[0].series.map((s) => s.name)).toEqual(["capstone_loss", "val_loss"]);
  });

  it("draws grouped eval scalars as one radar with a polygon per group, a gap where a group lacks a task", () => {
    const { charts, scalars } = planCharts({
      "eval/base/GSM8K": 0,
      "eval/base/MMLU": 0.2,
      "eval/sft/GSM8K": 0.9,
      "eval/sft/MMLU": 0.3,
      "eval/sft/ARC-Easy": 0.28,
      val_bpb: 2.4,
    });
    expect(scalars).toEqual(["val_bpb"]);
    expect(charts).toEqual([
      {
        kind: "radar",
        title: "eval",
        labels: ["GSM8K", "MMLU", "ARC-Easy"],
        values: [0, 0.2, 0],
        groups: [
          { name: "base", values: [0, 0.2, null] },
          { name: "sft", values: [0.9, 0.3, 0.28] },
        ],
      },
    ]);
  });

  it("keeps ungrouped eval scalars as a single polygon", () => {
    const { charts } = planCharts({ "eval/a": 0.1, "eval/b": 0.2, "eval/c": 0.3 });
    expect(charts).toEqual([{ kind: "radar", title: "eval", labels: ["a", "b", "c"], values: [0.1, 0.2, 0.3] }]);
  });
});
