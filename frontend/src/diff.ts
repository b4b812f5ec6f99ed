/**
 * Monaco diff adapter: the learner's files against the reference, side by side (inline on narrow screens).
 *
 * Design choices:
 * - Monaco's own diff editor with `hideUnchangedRegions`, so long unchanged stretches fold away and the reader
 *   sees only what differs; both sides are read-only (this is a comparison, not an editor).
 * - "Per-step view": a step selector jumps to the first line of the reference (else of the learner's file) that
 *   names the step (diffsteps.ts: `step1` / `step 1` / `TODO(step 1)` comments); "whole file" jumps to the
 *   first change. Previous/next buttons walk the changes.
 */
import { h } from "./dom";
import { pick, t } from "./i18n";
import type { Step } from "./api";
import { stepLine } from "./diffsteps";
import * as monaco from "./monaco";

export class ReferenceDiff {
  private readonly editor: monaco.editor.IStandaloneDiffEditor;
  private readonly pairs = new Map<string, { original: monaco.editor.ITextModel; modified: monaco.editor.ITextModel }>();
  private active = "";
  private readonly tabs: HTMLElement;
  private readonly stepSelect: HTMLSelectElement;

  constructor(host: HTMLElement, steps: Step[]) {
    this.tabs = h("div", { class: "editor-tabs", role: "tablist" });
    this.stepSelect = h(
      "select",
      { class: "select", "aria-label": t("diff.step") },
      h("option", { value: "" }, t("diff.all_steps")),
      ...steps.map((s, i) => h("option", { value: s.id }, t("module.step_label", { n: i + 1, title: pick(s.title) }))),
    );
    this.stepSelect.addEventListener("change", () => this.revealStep(this.stepSelect.value));
    const prev = h("button", { type: "button", class: "btn btn-ghost btn-sm" }, `↑ ${t("diff.prev")}`);
    const next = h("button", { type: "button", class: "btn btn-ghost btn-sm" }, `↓ ${t("diff.next")}`);
    prev.addEventListener("click", () => this.editor.goToDiff("previous"));
    next.addEventListener("click", () => this.editor.goToDiff("next"));
    const legend = h(
      "div",
      { class: "diff-legend" },
      h("span", { class: "diff-side diff-side-ref" }, t("diff.reference")),
      h("span", { class: "diff-side diff-side-mine" }, t("diff.yours")),
    );
    const toolbar = h("div", { class: "diff-toolbar" }, this.tabs, h("div", { class: "diff-nav" }, this.stepSelect, prev, next));
    const surface = h("div", { class: "editor-surface diff-surface", "data-testid": "diff" });
    host.replaceChildren(toolbar, legend, surface);
    this.editor = monaco.editor.createDiffEditor(surface, {
      automaticLayout: true,
      readOnly: true,
      originalEditable: false,
      renderSideBySide: window.innerWidth > 800,
      useInlineViewWhenSpaceIsLimited: true,
      renderSideBySideInlineBreakpoint: 620,
      hideUnchangedRegions: { enabled: true, contextLineCount: 3, minimumLineCount: 5, revealLineCount: 10 },
      minimap: { enabled: false },
      scrollBeyondLastLine: false,
      fontSize: 13,
      renderOverviewRuler: true,
      ignoreTrimWhitespace: false,
    });
  }

  /** Show `reference` (left) against `mine` (right), one tab per file present in either. */
  setFiles(reference: Record<string, string>, mine: Record<string, string>): void {
    for (const p of this.pairs.values()) {
      p.original.dispose();
      p.modified.dispose();
    }
    this.pairs.clear();
    const paths = [...new Set([...Object.keys(mine), ...Object.keys(reference)])];
    for (const path of paths) {
      const lang = path.endsWith(".py") ? "python" : undefined;
      this.pairs.set(path, {
        original: monaco.editor.createModel(reference[path] ?? "", lang),
        modified: monaco.editor.createModel(mine[path] ?? "", lang),
      });
    }
    this.show(paths[0] ?? "");
  }

  show(path: string): void {
    const pair = this.pairs.get(path);
    if (!pair) return;
    this.active = path;
    this.editor.setModel(pair);
    this.tabs.replaceChildren(
      ...[...this.pairs.keys()].map((p) => {
        const tab = h("button", { type: "button", class: `editor-tab${p === path ? " is-active" : ""}`, role: "tab" }, p);
        tab.addEventListener("click", () => this.show(p));
        return tab;
      }),
    );
  }

  private revealStep(stepId: string): void {
    const pair = this.pairs.get(this.active);
    if (!pair) return;
    if (!stepId) {
      this.editor.revealFirstDiff();
      return;
    }
    const sides = [
      { model: pair.original, editor: this.editor.getOriginalEditor() },
      { model: pair.modified, editor: this.editor.getModifiedEditor() },
    ];
    for (const side of sides) {
      const line = stepLine(side.model.getValue(), stepId);
      if (line !== null) {
        side.editor.revealLineNearTop(line);
        side.editor.setPosition({ lineNumber: line, column: 1 });
        return;
      }
    }
  }

  dispose(): void {
    this.editor.dispose();
    for (const p of this.pairs.values()) {
      p.original.dispose();
      p.modified.dispose();
    }
  }
}
