/**
 * Plotly adapter: turns a result's metrics into charts. Views pass metrics in and get DOM out; they never see
 * Plotly.
 *
 * Design choices:
 * - Plotly (~3.5 MB) is loaded with a dynamic import the first time a chart is drawn, so the editor page opens
 *   without it.
 * - Charts are chosen from metric names (the conventions content authors follow, see `planCharts`):
 *   - a series (list of numbers, or `{x, y, title, x_label}` with its x values and its title and x label in both
 *     languages, from the module's test) → a line chart; series named `*loss*` share one "loss curves" chart;
 *   - a series named `heatmap/<name>` (or `heatmap.<name>`) whose length is a square n×n → a heatmap, rows one
 *     after another; series `heatmap_x/<name>` and `heatmap_y/<name>` of length n label its columns and rows;
 *   - scalars named `<x>_baseline` and `<x>_optimized` (or `_ours`) → the performance comparison: per pair, a
 *     baseline and an optimized bar titled with their ratio;
 *   - three or more scalars named `eval/<task>` (or `eval.<task>`), values in [0, 1] → a radar chart;
 *     `eval/<group>/<task>` (e.g. a stage: `eval/sft/GSM8K`) draws one polygon per group on the same axes, the
 *     groups in the order their first metric came, so stages of one run can be compared at a glance;
 *   - the remaining scalars are listed as a table by the results view (not here).
 * - A click on a point, bar, cell or radar corner names the metric value behind it (`ChartPick`), so the results
 *   view can scroll its log to the moment that value was recorded.
 * - Charts use the page's font and a restrained palette; no Plotly mode bar, responsive width.
 * - Guides draw their generated plots here too (`renderGuidePlots`): a `div.guide-plot` carries the plot spec
 *   (`guide-plot.schema.json`) the server embedded; a spec that breaks the contract shows a message instead.
 */
import type { MetricValue } from "./api";
import { decodeGuidePlot, type GuidePlot } from "./decode";
import { h } from "./dom";
import { pick, t } from "./i18n";

interface PlotlyLike {
  newPlot(el: HTMLElement, data: object[], layout: object, config: object): Promise<unknown>;
  purge(el: HTMLElement): void;
}

/** What Plotly hands a `plotly_click` listener: the clicked points, with their trace's `meta` (a metric name). */
interface PlotlyClick {
  points?: { pointIndex?: number; pointNumber?: number | number[]; data?: { meta?: unknown } }[];
}

/** A click on a chart: which metric's value was clicked, the point's index in it and the metric's length. */
export interface ChartPick {
  metric: string;
  index: number;
  count: number;
}

let plotly: Promise<PlotlyLike> | null = null;

function loadPlotly(): Promise<PlotlyLike> {
  plotly ??= import("plotly.js-dist-min").then((m) => {
    const mod = m as unknown as { default?: PlotlyLike } & PlotlyLike;
    return mod.default ?? mod;
  });
  return plotly;
}

const PALETTE = ["#4f46e5", "#0d9488", "#d97706", "#db2777", "#2563eb", "#65a30d"];

export type ChartSpec =
  | { kind: "lines"; title: string; xLabel: string; series: Line[] }
  | { kind: "heatmap"; title: string; metric: string; z: number[][]; x: string[] | null; y: string[] | null }
  | { kind: "bars"; title: string; labels: string[]; baseline: number[]; optimized: number[] }
  | { kind: "radar"; title: string; labels: string[]; values: number[]; groups?: RadarGroup[] };

/** One polygon of a grouped radar: its name and a value per label (null where the group has no such metric). */
interface RadarGroup {
  name: string;
  values: (number | null)[];
}

const HEATMAP = /^heatmap[./](.+)$/;
interface Line {
  name: string;
  x: number[] | null;
  values: number[];
}

/** A heatmap's axis labels: `heatmap_x/<name>` (columns) and `heatmap_y/<name>` (rows), series of numbers. */
const HEATMAP_AXIS = /^heatmap_([xy])[./](.+)$/;
const EVAL = /^eval[./](.+)$/;
const EVAL_GROUP = /^eval[./]([^./]+)[./](.+)$/;
const PAIR = /^(.+)_(baseline|optimized|ours)$/;

type Metrics = Record<string, MetricValue>;

/** A heatmap's axis labels from its companion series (`heatmap_x/<name>`, `heatmap_y/<name>`), when of length n. */
function heatmapAxis(metrics: Metrics, which: "x" | "y", heatmap: string, n: number): string[] | null {
  for (const sep of ["/", "."]) {
    const v = metrics[`heatmap_${which}${sep}${heatmap}`];
    if (Array.isArray(v) && v.length === n) return v.map((x) => String(x));
  }
  return null;
}

/** A series with the title and x label its module gave it ("" where none). */
interface TitledLine {
  line: Line;
  title: string;
  xLabel: string;
}

/** Line charts (the loss curves together) and heatmaps from the series; marks every series used. */
function seriesCharts(metrics: Metrics, used: Set<string>): ChartSpec[] {
  const charts: ChartSpec[] = [];
  const lossSeries: TitledLine[] = [];
  const otherSeries: TitledLine[] = [];
  for (const [name, metric] of Object.entries(metrics)) {
    if (typeof metric === "number") continue;
    const value = Array.isArray(metric) ? metric : metric.y;
    const x = Array.isArray(metric) ? null : metric.x;
    used.add(name);
    if (HEATMAP_AXIS.test(name)) continue;
    const heat = HEATMAP.exec(name);
    const n = Math.round(Math.sqrt(value.length));
    if (heat && n * n === value.length && n > 0) {
      const title = heat[1] ?? name;
      const z = Array.from({ length: n }, (_, r) => value.slice(r * n, r * n + n));
      charts.push({ kind: "heatmap", title, metric: name, z, x: heatmapAxis(metrics, "x", title, n), y: heatmapAxis(metrics, "y", title, n) });
    } else {
      const title = Array.isArray(metric) ? "" : pick(metric.title);
      const xLabel = Array.isArray(metric) ? "" : pick(metric.xLabel);
      const entry: TitledLine = { line: { name, x, values: value }, title, xLabel };
      if (/loss/i.test(name)) lossSeries.push(entry);
      else otherSeries.push({ ...entry, title: title || name, xLabel: xLabel || t("chart.step") });
    }
  }
  if (lossSeries.length) {
    // one loss curve keeps the module's own title and x label; several share "loss", each named in the legend
    const only = lossSeries.length === 1 ? lossSeries[0] : undefined;
    const xLabels = new Set(lossSeries.map((s) => s.xLabel));
    const shared = xLabels.size === 1 ? [...xLabels][0] : "";
    charts.unshift({
      kind: "lines",
      title: only?.title || t("chart.loss"),
      xLabel: shared || t("chart.step"),
      series: lossSeries.map((s) => s.line),
    });
  }
  for (const s of otherSeries) charts.push({ kind: "lines", title: s.title, xLabel: s.xLabel, series: [s.line] });
  return charts;
}

/** How many times the larger of two positive values is the smaller (`12.3×`), or "" when that means nothing. */
export function ratioText(a: number, b: number): string {
  const [lo, hi] = a < b ? [a, b] : [b, a];
  if (!(lo > 0) || !Number.isFinite(hi)) return "";
  const r = hi / lo;
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}×`;
}

/** The performance comparison: one baseline-vs-optimized chart per scalar pair (each pair has its own unit and
 * scale), titled with the ratio between them; marks the pairs used. */
function pairCharts(metrics: Metrics, used: Set<string>): ChartSpec[] {
  const pairs = new Map<string, { baseline?: number; optimized?: number }>();
  for (const [name, value] of Object.entries(metrics)) {
    const m = PAIR.exec(name);
    if (typeof value !== "number" || !m?.[1]) continue;
    const entry = pairs.get(m[1]) ?? {};
    if (m[2] === "baseline") entry.baseline = value;
    else entry.optimized = value;
    pairs.set(m[1], entry);
  }
  const charts: ChartSpec[] = [];
  for (const [k, p] of pairs) {
    if (p.baseline === undefined || p.optimized === undefined) continue;
    for (const suffix of ["baseline", "optimized", "ours"]) used.add(`${k}_${suffix}`);
    const ratio = ratioText(p.baseline, p.optimized);
    charts.push({ kind: "bars", title: ratio ? `${k} · ${ratio}` : k, labels: [k], baseline: [p.baseline], optimized: [p.optimized] });
  }
  return charts;
}

/** Decide which charts a metrics dict deserves; returns the specs and the scalar names left for a table. */
export function planCharts(metrics: Metrics): { charts: ChartSpec[]; scalars: string[] } {
  const used = new Set<string>();
  const charts = seriesCharts(metrics, used);
  charts.push(...pairCharts(metrics, used));
  const evals = Object.entries(metrics).filter((e): e is [string, number] => typeof e[1] === "number" && EVAL.test(e[0]));
  const grouped = evals.filter(([k]) => EVAL_GROUP.test(k));
  if (grouped.length >= 3) {
    const labels: string[] = [];
    const byGroup = new Map<string, Map<string, number>>();
    for (const [k, v] of grouped) {
      const [, group = "", label = ""] = EVAL_GROUP.exec(k) ?? [];
      if (!labels.includes(label)) labels.push(label);
      const values = byGroup.get(group) ?? new Map<string, number>();
      values.set(label, v);
      byGroup.set(group, values);
      used.add(k);
    }
    const groups = [...byGroup].map(([name, values]) => ({ name, values: labels.map((l) => values.get(l) ?? null) }));
    charts.push({ kind: "radar", title: t("chart.eval"), labels, values: groups[0]?.values.map((v) => v ?? 0) ?? [], groups });
  }
  const plain = evals.filter(([k]) => !EVAL_GROUP.test(k));
  if (plain.length >= 3) {
    charts.push({
      kind: "radar",
      title: t("chart.eval"),
      labels: plain.map(([k]) => EVAL.exec(k)?.[1] ?? k),
      values: plain.map(([, v]) => v),
    });
    for (const [k] of plain) used.add(k);
  }
  const scalars = Object.keys(metrics).filter((k) => !used.has(k));
  return { charts, scalars };
}

const baseLayout = {
  margin: { l: 52, r: 16, t: 48, b: 44 },
  height: 280,
  font: { family: "Inter, system-ui, -apple-system, 'PingFang SC', 'Noto Sans CJK SC', sans-serif", size: 12, color: "#334155" },
  paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "rgba(0,0,0,0)",
  legend: { orientation: "h", x: 1, xanchor: "right", y: 1.02, yanchor: "bottom", font: { size: 11 } },
  colorway: PALETTE,
};

function layoutFor(spec: ChartSpec): object {
  const title = { text: spec.title, font: { size: 13 }, x: 0.01, xanchor: "left", y: 0.97, yanchor: "top" };
  switch (spec.kind) {
    case "lines":
      // room below the tick labels for the x-axis title
      return {
        ...baseLayout,
        title,
        margin: { ...baseLayout.margin, b: 60 },
        xaxis: { title: { text: spec.xLabel, standoff: 6 }, gridcolor: "#e2e8f0" },
        yaxis: { gridcolor: "#e2e8f0" },
      };
    case "heatmap":
      return { ...baseLayout, title, height: 300, xaxis: { type: "category" }, yaxis: { autorange: "reversed", type: "category" } };
    case "bars":
      return { ...baseLayout, title, height: 240, barmode: "group", xaxis: { showticklabels: false }, yaxis: { gridcolor: "#e2e8f0" } };
    case "radar": {
      // stages of one run often differ by a few points: a grouped radar zooms to its largest value (never past 1)
      const all = spec.groups ? spec.groups.flatMap((g) => g.values.filter((v): v is number => v !== null)) : [];
      const top = spec.groups ? Math.min(1, Math.max(0.1, ...all) * 1.15) : 1;
      return {
        ...baseLayout,
        title,
        height: spec.groups ? 360 : 300,
        polar: { radialaxis: { range: [0, top], tickfont: { size: 9 } } },
        showlegend: Boolean(spec.groups),
        legend: { ...baseLayout.legend, y: -0.08, yanchor: "top" },
      };
    }
  }
}

function dataFor(spec: ChartSpec): object[] {
  switch (spec.kind) {
    case "lines":
      return spec.series.map((s) => ({
        type: "scatter",
        mode: s.values.length > 40 ? "lines" : "lines+markers",
        name: s.name,
        meta: s.name,
        x: s.x ?? s.values.map((_, i) => i),
        y: s.values,
      }));
    case "heatmap":
      return [
        {
          type: "heatmap",
          z: spec.z,
          colorscale: "Viridis",
          meta: spec.metric,
          // category axes need their labels: the companion series', else the cell indices
          x: spec.x ?? spec.z[0]?.map((_, i) => String(i)) ?? [],
          y: spec.y ?? spec.z.map((_, i) => String(i)),
        },
      ];
    case "bars":
      return [
        { type: "bar", name: t("chart.baseline"), x: spec.labels, y: spec.baseline, marker: { color: "#94a3b8" }, meta: "baseline" },
        { type: "bar", name: t("chart.optimized"), x: spec.labels, y: spec.optimized, marker: { color: PALETTE[0] }, meta: "optimized" },
      ];
    case "radar":
      if (spec.groups) {
        return spec.groups.map((g, i) => ({
          type: "scatterpolar",
          name: g.name,
          r: [...g.values, g.values[0] ?? null],
          theta: [...spec.labels, spec.labels[0]],
          fill: "toself",
          opacity: 0.75,
          line: { color: PALETTE[i % PALETTE.length] },
          meta: g.name,
        }));
      }
      return [
        {
          type: "scatterpolar",
          r: [...spec.values, spec.values[0]],
          theta: [...spec.labels, spec.labels[0]],
          fill: "toself",
          line: { color: PALETTE[1] },
          meta: "eval",
        },
      ];
  }
}

/** The metric a click on chart `spec` points at (index and length within that metric), or null. */
export function pickOf(spec: ChartSpec, click: PlotlyClick, metrics: Record<string, MetricValue>): ChartPick | null {
  const point = click.points?.[0];
  if (!point) return null;
  const raw = point.pointIndex ?? point.pointNumber;
  // a heatmap cell comes as [row, column]; the metric holds the rows one after another
  const index = Array.isArray(raw) ? (raw[0] ?? 0) * (spec.kind === "heatmap" ? (spec.z[0]?.length ?? 1) : 1) + (raw[1] ?? 0) : raw;
  if (typeof index !== "number") return null;
  const meta = typeof point.data?.meta === "string" ? point.data.meta : "";
  switch (spec.kind) {
    case "lines":
    case "heatmap": {
      const metric = spec.kind === "heatmap" ? spec.metric : meta;
      return metric in metrics ? { metric, index, count: lengthOf(metrics, metric) } : null;
    }
    case "bars": {
      const label = spec.labels[index];
      return label !== undefined
        ? {
            metric: `${label}_${meta === "baseline" ? "baseline" : metrics[`${label}_optimized`] !== undefined ? "optimized" : "ours"}`,
            index: 0,
            count: 1,
          }
        : null;
    }
    case "radar": {
      const label = spec.labels[index % spec.labels.length];
      const metric = spec.groups
        ? Object.keys(metrics).find((k) => {
            const m = EVAL_GROUP.exec(k);
            return m?.[1] === meta && m[2] === label;
          })
        : Object.keys(metrics).find((k) => EVAL.exec(k)?.[1] === label);
      return metric ? { metric, index: 0, count: 1 } : null;
    }
  }
}

function lengthOf(metrics: Record<string, MetricValue>, name: string | undefined): number {
  const v = name === undefined ? undefined : metrics[name];
  return Array.isArray(v) ? v.length : v !== undefined && typeof v === "object" ? v.y.length : 1;
}

/** Render charts for `metrics` into `host` (replacing its children). Returns the number of charts drawn.
 * `onPick` hears which metric value a click on a chart points at (the interactive log). */
export async function renderMetricCharts(
  host: HTMLElement,
  metrics: Record<string, MetricValue>,
  onPick?: (pick: ChartPick) => void,
): Promise<number> {
  const { charts } = planCharts(metrics);
  for (const child of Array.from(host.children)) {
    if (child instanceof HTMLElement && child.dataset.plotted) (await loadPlotly()).purge(child);
  }
  host.replaceChildren();
  if (charts.length === 0) return 0;
  const P = await loadPlotly();
  for (const spec of charts) {
    const el = h("div", { class: "chart", "data-chart": spec.kind, "aria-label": `${t("results.metrics")}: ${spec.title}` });
    el.dataset.plotted = "1";
    host.append(el);
    await P.newPlot(el, dataFor(spec), layoutFor(spec), { displayModeBar: false, responsive: true });
    if (onPick) {
      el.classList.add("is-clickable");
      (el as unknown as { on(event: string, listener: (e: PlotlyClick) => void): void }).on("plotly_click", (e) => {
        const pick = pickOf(spec, e, metrics);
        if (pick) onPick(pick);
      });
    }
  }
  return charts.length;
}

function guidePlotFigure(plot: GuidePlot): { data: object[]; layout: object } {
  const data = plot.series.map((s, i) => ({
    type: "scatter",
    mode: "lines",
    name: s.name,
    x: s.x,
    y: s.y,
    line: { color: PALETTE[i % PALETTE.length], width: s.dash ? 1.8 : 2.4, dash: s.dash ? "dash" : "solid" },
  }));
  const title = { text: plot.title, font: { size: 13 }, x: 0.01, xanchor: "left", y: 0.97, yanchor: "top" };
  const yaxis = { title: { text: plot.y_label }, gridcolor: "#e2e8f0", ...(plot.y_range ? { range: plot.y_range } : {}) };
  const legend = { ...baseLayout.legend, orientation: "h", x: 0, xanchor: "left", y: -0.28, yanchor: "top" };
  const layout = {
    ...baseLayout,
    title,
    height: 340,
    margin: { ...baseLayout.margin, b: 96 },
    legend,
    xaxis: { title: { text: plot.x_label }, gridcolor: "#e2e8f0" },
    yaxis,
  };
  return { data, layout };
}

/** Draw every `div.guide-plot[data-plot]` under `root` (a guide's generated plots). Returns the number drawn. */
export async function renderGuidePlots(root: HTMLElement): Promise<number> {
  const hosts = Array.from(root.querySelectorAll<HTMLElement>(".guide-plot[data-plot]"));
  if (hosts.length === 0) return 0;
  const P = await loadPlotly();
  let drawn = 0;
  for (const el of hosts) {
    let plot: GuidePlot;
    try {
      plot = decodeGuidePlot(el.dataset.plot ?? "");
    } catch (err) {
      el.classList.add("plot-error");
      el.textContent = err instanceof Error ? err.message : String(err);
      continue;
    }
    const { data, layout } = guidePlotFigure(plot);
    el.removeAttribute("data-plot");
    el.dataset.plotted = "1";
    await P.newPlot(el, data, layout, { displayModeBar: false, responsive: true });
    drawn += 1;
  }
  return drawn;
}

/** A chart of the analytics pages: one trace per series over shared categories (bars, lines, or dots). */
export interface Figure {
  title: string;
  kind: "bars" | "lines" | "dots";
  x: (string | number)[];
  series: { name: string; y: (number | null)[]; text?: string[] }[];
  xLabel?: string;
  yLabel?: string;
  yRange?: [number, number];
  /** y values are fractions shown as percentages. */
  percent?: boolean;
}

/** Draw `figure` into `el` (replacing an earlier drawing). */
export async function renderFigure(el: HTMLElement, figure: Figure): Promise<void> {
  const P = await loadPlotly();
  if (el.dataset.plotted) P.purge(el);
  const data = figure.series.map((s, i) => ({
    type: figure.kind === "bars" ? "bar" : "scatter",
    mode: figure.kind === "lines" ? "lines+markers" : figure.kind === "dots" ? "markers" : undefined,
    name: s.name,
    x: figure.x,
    y: s.y,
    hovertext: s.text,
    marker: { color: PALETTE[i % PALETTE.length] },
    hovertemplate: figure.percent ? "%{x} %{hovertext}: %{y:.1%}<extra>%{fullData.name}</extra>" : undefined,
  }));
  const layout = {
    ...baseLayout,
    title: { text: figure.title, font: { size: 13 }, x: 0.01, xanchor: "left", y: 0.97, yanchor: "top" },
    barmode: "group",
    xaxis: { title: { text: figure.xLabel ?? "" }, gridcolor: "#e2e8f0", automargin: true, type: figure.kind === "dots" ? "date" : "category" },
    yaxis: {
      title: { text: figure.yLabel ?? "" },
      gridcolor: "#e2e8f0",
      tickformat: figure.percent ? ".0%" : undefined,
      ...(figure.yRange ? { range: figure.yRange } : {}),
    },
  };
  el.dataset.plotted = "1";
  await P.newPlot(el, data, layout, { displayModeBar: false, responsive: true });
}
