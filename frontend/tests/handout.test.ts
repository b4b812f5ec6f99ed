/**
 * A guide's handout parts in the page: maths typeset by KaTeX (maths.ts) and generated plots drawn through the
 * Plotly adapter (charts.ts), from the HTML the server renders (modules/handouts.py).
 */
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

const newPlot = vi.fn((..._args: unknown[]) => Promise.resolve());
vi.mock("plotly.js-dist-min", () => ({ default: { newPlot, purge: vi.fn() } }));

import { renderGuidePlots } from "../src/charts";
import { DecodeError, decodeGuidePlot } from "../src/decode";
import { mathsSource, renderMaths } from "../src/maths";

function guide(html: string): HTMLElement {
  const root = document.createElement("article");
  root.innerHTML = html;
  return root;
}

describe("maths", () => {
  // The lab's pages are in standards mode (<!DOCTYPE html>), which KaTeX checks; happy-dom has no compatMode.
  beforeAll(() => Object.defineProperty(document, "compatMode", { value: "CSS1Compat", configurable: true }));

  it("reads the server's delimiters: \\(…\\) inline, \\[…\\] display", () => {
    expect(mathsSource("\\(a_1\\)")).toEqual({ tex: "a_1", display: false });
    expect(mathsSource("\\[\n\\sum_i x_i\n\\]")).toEqual({ tex: "\n\\sum_i x_i\n", display: true });
  });

  it("typesets inline and display maths with KaTeX, once", async () => {
    const root = guide('<p>Scores <span class="arithmatex">\\(q_i \\cdot k_j &lt; 1\\)</span>.</p><div class="arithmatex">\\[\\frac{a}{b}\\]</div>');
    expect(await renderMaths(root)).toBe(2);
    const [inline, display] = Array.from(root.querySelectorAll<HTMLElement>(".arithmatex"));
    expect(inline?.querySelector(".katex")).not.toBeNull();
    expect(inline?.querySelector(".katex-display")).toBeNull();
    expect(display?.querySelector(".katex-display .mfrac")).not.toBeNull();
    expect(inline?.querySelector("annotation")?.textContent).toBe("q_i \\cdot k_j < 1");
    expect(await renderMaths(root)).toBe(0);
  });

  it("shows bad TeX as its source, marked as an error with KaTeX's message", async () => {
    const root = guide('<p>Before <span class="arithmatex">\\(\\frac{1}{\\)</span> after.</p>');
    expect(await renderMaths(root)).toBe(0);
    const el = root.querySelector<HTMLElement>(".arithmatex");
    expect(el?.classList.contains("maths-error")).toBe(true);
    expect(el?.textContent).toBe("\\(\\frac{1}{\\)");
    expect(el?.title).toMatch(/^KaTeX parse error: Unexpected end of input/);
    expect(root.textContent).toContain("after.");
  });

  it("never turns TeX into a link or an image", async () => {
    const root = guide('<span class="arithmatex">\\(\\href{javascript:alert(1)}{x} \\includegraphics{http://x.test/a.png}\\)</span>');
    await renderMaths(root);
    expect(root.querySelector("a, img")).toBeNull();
  });

  it("does not load KaTeX for a guide without maths", async () => {
    expect(await renderMaths(guide("<p>$5 and $6</p>"))).toBe(0);
  });
});

const PLOT = {
  title: "LR",
  x_label: "step",
  y_label: "× lr",
  y_range: [0, 1.05],
  series: [
    { name: "defaults", x: [0, 10], y: [1, 0] },
    { name: "variant", x: [0, 10], y: [0.5, 0.1], dash: true },
  ],
};

describe("guide plots", () => {
  beforeEach(() => newPlot.mockClear());

  it("decodes a plot spec by the contract and refuses one that breaks it", () => {
    expect(decodeGuidePlot(JSON.stringify(PLOT)).series).toHaveLength(2);
    expect(() => decodeGuidePlot("{")).toThrow(DecodeError);
    expect(() => decodeGuidePlot(JSON.stringify({ ...PLOT, series: [{ name: "s", x: "0" }] }))).toThrow(/plot\.series\[0\]/);
  });

  it("draws each plot the server embedded, with its axes, range and dashes", async () => {
    const root = guide(`<figure><div class="guide-plot" data-plot='${JSON.stringify(PLOT)}'></div></figure>`);
    expect(await renderGuidePlots(root)).toBe(1);
    const [el, data, layout] = newPlot.mock.calls[0] as [
      HTMLElement,
      { name: string; line: { dash: string } }[],
      Record<string, { title: { text: string }; range?: number[] }>,
    ];
    expect(el.dataset.plotted).toBe("1");
    expect(data.map((d) => [d.name, d.line.dash])).toEqual([
      ["defaults", "solid"],
      ["variant", "dash"],
    ]);
    expect(layout.xaxis?.title.text).toBe("step");
    expect(layout.yaxis?.range).toEqual([0, 1.05]);
  });

  it("shows why a broken spec cannot be drawn, and draws the others", async () => {
    const root = guide(`<div class="guide-plot" data-plot="not json"></div><div class="guide-plot" data-plot='${JSON.stringify(PLOT)}'></div>`);
    expect(await renderGuidePlots(root)).toBe(1);
    const broken = root.querySelector(".guide-plot");
    expect(broken?.classList.contains("plot-error")).toBe(true);
    expect(broken?.textContent).toBe("plot: not JSON");
  });
});
