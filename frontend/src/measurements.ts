/**
 * My measurements (`/measurements/`): per module, what the learner's own code measured, beside the reference's
 * figures.
 *
 * Design choices:
 * - Renders from the page data Django embedded (`page-measurements.schema.json`), no request on load: per module
 *   the metrics of the learner's best passing attempt (or their latest, until one passes), chosen by the server.
 * - The learner's charts are the results pane's (`charts.ts` `renderMetricCharts`: baseline-vs-optimized pairs as
 *   ratio bars, series as lines, ...); scalars that make no chart are listed as in the results pane. The
 *   reference's figures are the plots the module's guide shows, drawn by the same adapter (`renderGuidePlots`).
 * - Empty: the modules whose tests record measurements, each linking to its page (or saying it is locked).
 */
import { decodeMeasurementsPage, type MeasurementProducer, type ModuleMeasurements } from "./api";
import { planCharts, renderGuidePlots, renderMetricCharts } from "./charts";
import { byId, fill, h } from "./dom";
import { lang, num, t } from "./i18n";
import { boot, showFatal } from "./page";

const page = boot();
const root = byId("measurements-root");

function order(n: number): string {
  return String(n).padStart(2, "0");
}

function attemptLine(m: ModuleMeasurements): HTMLElement {
  const when = new Date(m.attempt.at).toLocaleDateString(lang() === "zh-hans" ? "zh-CN" : "en-GB");
  const score = `${num(m.attempt.score, 2)} / ${num(m.attempt.maxScore, 2)}`;
  return h(
    "p",
    { class: "muted", "data-testid": "measured-attempt", "data-passed": String(m.attempt.passed) },
    t(m.attempt.passed ? "measurements.best_pass" : "measurements.latest", { score, when }),
  );
}

function scalarTable(m: ModuleMeasurements): HTMLElement | null {
  const { scalars } = planCharts(m.metrics);
  if (scalars.length === 0) return null;
  return h(
    "table",
    { class: "metric-table", "data-testid": "measured-scalars" },
    h(
      "tbody",
      {},
      scalars.map((k) => {
        const v = m.metrics[k];
        return h("tr", {}, h("td", {}, k), h("td", {}, typeof v === "number" ? num(v, 4) : ""));
      }),
    ),
  );
}

function moduleSection(m: ModuleMeasurements, charts: HTMLElement, plots: HTMLElement): HTMLElement {
  const title = `${order(m.order)} · ${m.title}`;
  return h(
    "section",
    { class: "card card-pad measurement", "data-testid": "measurement", "data-module": m.slug },
    h("h2", {}, m.url ? h("a", { href: m.url }, title) : title),
    attemptLine(m),
    h(
      "div",
      { class: "measurement-columns" },
      h(
        "div",
        { class: "measurement-own", "data-testid": "measured-own" },
        h("div", { class: "section-title" }, t("measurements.yours")),
        charts,
        scalarTable(m),
      ),
      m.reference.length
        ? h(
            "div",
            { class: "measurement-reference", "data-testid": "measured-reference" },
            h("div", { class: "section-title" }, t("measurements.reference")),
            plots,
          )
        : null,
    ),
  );
}

function producerItem(p: MeasurementProducer): HTMLElement {
  const title = `${order(p.order)} · ${p.title}`;
  return h(
    "li",
    { "data-module": p.slug, "data-state": p.state },
    p.url ? h("a", { href: p.url }, title) : h("span", {}, title, " ", h("span", { class: "faint" }, t("measurements.locked"))),
  );
}

async function render(): Promise<void> {
  const data = decodeMeasurementsPage(page.data);
  if (data.modules.length === 0) {
    fill(
      root,
      h(
        "div",
        { class: "card card-pad measurements-empty", "data-testid": "measurements-empty" },
        h("p", {}, t("measurements.empty")),
        h("ul", { class: "producer-list" }, data.producers.map(producerItem)),
      ),
    );
    return;
  }
  const drawn: [ModuleMeasurements, HTMLElement, HTMLElement][] = data.modules.map((m) => [
    m,
    h("div", { class: "charts", "data-testid": "charts" }),
    h(
      "div",
      { class: "charts" },
      m.reference.map((r) => h("div", { class: "guide-plot", "data-plot": r.plot, "data-figure": r.key })),
    ),
  ]);
  fill(
    root,
    drawn.map(([m, charts, plots]) => moduleSection(m, charts, plots)),
  );
  for (const [m, charts, plots] of drawn) {
    await renderMetricCharts(charts, m.metrics);
    await renderGuidePlots(plots);
  }
  root.dataset.ready = "1";
}

render().catch((err: unknown) => showFatal(root, err));
