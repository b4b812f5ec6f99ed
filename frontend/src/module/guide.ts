/**
 * The guide tab: goals, prerequisites, steps and the guide itself (HTML the server rendered and sanitised), with its
 * maths typeset by KaTeX and its generated plots drawn by Plotly, each through its adapter.
 */
import type { ModuleDetail } from "../api";
import { renderGuidePlots } from "../charts";
import { fill, h } from "../dom";
import { pick, t } from "../i18n";
import { renderMaths } from "../maths";

export function renderGuide(detail: ModuleDetail, panel: HTMLElement): void {
  const guide = h("article", { class: "guide", "data-testid": "guide" });
  // The server renders the guide from Markdown and sanitises it with nh3 before embedding: safe to insert.
  guide.innerHTML = detail.guideHtml;
  // Each marks what it could not draw on the element itself; a failed load leaves the source text in place.
  renderMaths(guide).catch(() => undefined);
  renderGuidePlots(guide).catch(() => undefined);
  fill(
    panel,
    h(
      "div",
      { class: "meta-block" },
      detail.goals.length
        ? h(
            "div",
            {},
            h("h3", {}, t("module.goals")),
            h(
              "ul",
              {},
              detail.goals.map((g) => h("li", {}, pick(g))),
            ),
          )
        : null,
      h(
        "div",
        {},
        h("h3", {}, t("module.prerequisites")),
        detail.prerequisites.length
          ? h(
              "div",
              { class: "prereqs" },
              detail.prerequisites.map((p) => h("a", { class: "badge", href: `/modules/${encodeURIComponent(p)}/` }, p)),
            )
          : h("span", { class: "muted" }, t("module.none")),
      ),
      detail.steps.length
        ? h(
            "div",
            {},
            h("h3", {}, t("module.steps")),
            h(
              "ol",
              {},
              detail.steps.map((s) => h("li", { "data-step": s.id }, pick(s.title))),
            ),
          )
        : null,
    ),
    guide,
  );
}

/**
 * A link to a guide section (`/modules/<slug>/#<heading id>`, as search results give) arrives before the guide is
 * rendered, so the browser cannot scroll to it by itself: show the guide tab and bring the heading into view,
 * marked for a moment. Other hashes (`#thread-<id>`) belong to their own views.
 */
export function followGuideAnchor(panel: HTMLElement, showGuide: () => void): void {
  const id = decodeURIComponent(window.location.hash.slice(1));
  if (!id || id.startsWith("thread-")) return;
  const target = [...panel.querySelectorAll<HTMLElement>("h1[id], h2[id], h3[id], h4[id]")].find((el) => el.id === id);
  if (!target) return;
  showGuide();
  target.classList.add("is-target");
  target.setAttribute("tabindex", "-1");
  window.requestAnimationFrame(() => {
    target.scrollIntoView({ block: "start" });
    target.focus({ preventScroll: true });
  });
}
