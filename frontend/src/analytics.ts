/**
 * The instructors' analytics pages (`/analytics/`, `/analytics/learners/<name>/`), server-rendered tables with
 * Plotly charts drawn from the `analytics-data` blob the template embedded (`grading/analytics/views.py`). The
 * tables carry every number; the charts draw the same rows. Plotly is reached through `charts.ts` only.
 */
import { renderFigure, type Figure } from "./charts";
import { t } from "./i18n";
import { boot } from "./page";

type Row = Record<string, unknown>;

function rows(data: Row, key: string): Row[] {
  const v = data[key];
  return Array.isArray(v) ? v.filter((r): r is Row => typeof r === "object" && r !== null) : [];
}

const num = (v: unknown): number | null => (typeof v === "number" ? v : null);
const str = (v: unknown): string => (typeof v === "string" || typeof v === "number" ? String(v) : "");

function figures(data: Row): Record<string, Figure> {
  const modules = rows(data, "modules");
  const x = modules.map((m) => str(m.order).padStart(2, "0"));
  const names = modules.map((m) => str(m.title));
  const tests = rows(data, "tests");
  const cohorts = rows(data, "cohorts");
  const attempts = rows(data, "attempts");
  return {
    completion: {
      title: t("analytics.modules_chart"),
      kind: "bars",
      x,
      percent: true,
      yRange: [0, 1],
      series: [
        { name: t("analytics.completion"), y: modules.map((m) => num(m.completion_rate)), text: names },
        { name: t("analytics.pass_rate"), y: modules.map((m) => num(m.pass_rate)), text: names },
      ],
    },
    confidence: {
      title: t("analytics.confidence_chart"),
      kind: "bars",
      x,
      yRange: [0, 5],
      series: [
        { name: t("analytics.before"), y: modules.map((m) => num(m.confidence_before)), text: names },
        { name: t("analytics.after"), y: modules.map((m) => num(m.confidence_after)), text: names },
      ],
    },
    tests: {
      title: t("analytics.tests_chart"),
      kind: "bars",
      x: tests.map((r) => `${str(r.module).slice(0, 2)} ${str(r.name)}`),
      percent: true,
      yRange: [0, 1],
      series: [{ name: t("analytics.pass_rate"), y: tests.map((r) => num(r.pass_rate)) }],
    },
    retention: {
      title: t("analytics.retention_chart"),
      kind: "lines",
      x: cohorts.map((c) => str(c.week)),
      percent: true,
      yRange: [0, 1],
      series: [
        { name: t("analytics.retention_7"), y: cohorts.map((c) => num(c.retention_7)) },
        { name: t("analytics.retention_30"), y: cohorts.map((c) => num(c.retention_30)) },
      ],
    },
    timeline: {
      title: t("analytics.timeline_chart"),
      kind: "dots",
      x: attempts.map((a) => str(a.at)),
      series: ["pass", "fail", "error"].map((status) => ({
        name: t(`status.${status}` as Parameters<typeof t>[0]),
        y: attempts.map((a) => (a.status === status ? num(a.order) : null)),
        text: attempts.map((a) => str(a.title)),
      })),
    },
  };
}

function main(): void {
  boot();
  const el = document.getElementById("analytics-data");
  const parsed: unknown = el?.textContent ? JSON.parse(el.textContent) : {};
  const data: Row = typeof parsed === "object" && parsed !== null ? (parsed as Row) : {};
  const all = figures(data);
  const hosts = Array.from(document.querySelectorAll<HTMLElement>("[data-chart]"));
  void Promise.all(
    hosts.map((host) => {
      const figure = all[host.dataset.chart ?? ""];
      return figure ? renderFigure(host, figure) : Promise.resolve();
    }),
  ).then(() => {
    document.body.dataset.ready = "1";
  });
}

main();
