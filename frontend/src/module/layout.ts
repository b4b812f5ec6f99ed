/** The module page's frame: the header, the tabbed left pane and the editor + results right pane (no behaviour). */
import type { ModuleDetail } from "../api";
import { fill, h } from "../dom";
import { pick, t, type Localized, type MessageKey } from "../i18n";
import { badge, type TabName } from "./context";

const TAB_NAMES: TabName[] = ["guide", "hints", "history", "reflection", "discussion"];
const TAB_LABELS: Record<TabName, MessageKey> = {
  guide: "module.guide",
  hints: "module.hints",
  history: "module.history",
  reflection: "module.reflection",
  discussion: "discussion.tab",
};

export interface Header {
  root: HTMLElement;
  stateBadge: HTMLElement;
  stepChips: HTMLElement;
  nextLink: HTMLAnchorElement;
}

export interface Tabs {
  root: HTMLElement;
  panels: Record<TabName, HTMLElement>;
  select: (name: TabName) => void;
}

export interface EditorPane {
  root: HTMLElement;
  saveState: HTMLElement;
  lintState: HTMLElement;
  runButton: HTMLButtonElement;
  formatButton: HTMLButtonElement;
  resetButton: HTMLButtonElement;
  compareButton: HTMLButtonElement;
  editorHost: HTMLElement;
  diffHost: HTMLElement;
  resultsRoot: HTMLElement;
}

export type PhoneView = "guide" | "editor" | "results";

/** Narrow screens show one pane at a time (CSS hides the switch on wide ones, where all three sit side by side). */
export interface PhoneSwitch {
  root: HTMLElement;
  select: (view: PhoneView) => void;
}

export interface Layout {
  header: Header;
  tabs: Tabs;
  pane: EditorPane;
  phone: PhoneSwitch;
}

/** Fill `root` with the page's frame and return its parts. */
export function buildLayout(root: HTMLElement, detail: ModuleDetail, next: { slug: string; title: Localized; url: string } | null): Layout {
  const header = buildHeader(detail, next);
  const tabs = buildTabs();
  const pane = buildEditorPane();
  const workspace = h("div", { class: "workspace", "data-phone-view": "guide" }, tabs.root, pane.root);
  const phone = buildPhoneSwitch(workspace);
  fill(root, header.root, phone.root, workspace);
  return { header, tabs, pane, phone };
}

const PHONE_VIEWS: PhoneView[] = ["guide", "editor", "results"];
const PHONE_LABELS: Record<PhoneView, MessageKey> = { guide: "module.guide", editor: "module.editor", results: "module.results" };

function buildPhoneSwitch(workspace: HTMLElement): PhoneSwitch {
  const buttons = PHONE_VIEWS.map((v) =>
    h("button", { type: "button", class: "phone-tab", role: "tab", "aria-selected": String(v === "guide"), "data-view": v }, t(PHONE_LABELS[v])),
  );
  const select = (view: PhoneView): void => {
    workspace.dataset.phoneView = view;
    PHONE_VIEWS.forEach((v, i) => buttons[i]?.setAttribute("aria-selected", String(v === view)));
  };
  buttons.forEach((b, i) => b.addEventListener("click", () => select(PHONE_VIEWS[i] as PhoneView)));
  const root = h("nav", { class: "phone-switch", role: "tablist", "aria-label": t("module.phone_switch"), "data-testid": "phone-switch" }, buttons);
  return { root, select };
}

export function showLocked(root: HTMLElement): void {
  fill(root, h("main", { class: "page" }, h("div", { class: "notice notice-warn", "data-testid": "locked" }, t("module.locked"))));
}

function buildHeader(detail: ModuleDetail, next: { slug: string; title: Localized; url: string } | null): Header {
  const stateBadge = badge(detail.state);
  const stepChips = h("div", { class: "steps", "data-testid": "steps" });
  const nextLink = h(
    "a",
    {
      class: "btn btn-primary btn-sm next-link",
      href: next?.url ?? null,
      "data-slug": next?.slug ?? null,
      "data-testid": "next-module",
      hidden: true,
    },
    next ? t("module.next", { title: pick(next.title) }) : "",
  );
  const root = h(
    "header",
    { class: "module-header" },
    h("span", { class: "order" }, String(detail.order).padStart(2, "0")),
    h("h1", { "data-testid": "module-title" }, pick(detail.title)),
    stateBadge,
    nextLink,
    stepChips,
  );
  return { root, stateBadge, stepChips, nextLink };
}

function buildTabs(): Tabs {
  const panels = Object.fromEntries(
    TAB_NAMES.map((n) => [
      n,
      h("div", { class: "tab-panel", role: "tabpanel", id: `panel-${n}`, "data-testid": `panel-${n}`, hidden: n !== "guide" }),
    ]),
  ) as unknown as Record<TabName, HTMLElement>;
  const buttons = TAB_NAMES.map((n) =>
    h(
      "button",
      { type: "button", class: "tab", role: "tab", "aria-selected": String(n === "guide"), "aria-controls": `panel-${n}`, "data-tab": n },
      t(TAB_LABELS[n]),
      n === "hints" || n === "history" || n === "discussion" ? h("span", { class: "count" }) : null,
    ),
  );
  const select = (name: TabName): void => {
    TAB_NAMES.forEach((n, i) => {
      panels[n].hidden = n !== name;
      buttons[i]?.setAttribute("aria-selected", String(n === name));
    });
  };
  buttons.forEach((b, i) => b.addEventListener("click", () => select(TAB_NAMES[i] as TabName)));
  const root = h("section", { class: "pane pane-left" }, h("nav", { class: "tabs", role: "tablist" }, buttons), ...TAB_NAMES.map((n) => panels[n]));
  return { root, panels, select };
}

function buildEditorPane(): EditorPane {
  const saveState = h("span", { class: "save-state", "data-state": "saved", "data-testid": "save-state", role: "status" }, t("editor.saved"));
  const lintState = h("span", { class: "lint-state", "data-testid": "lint-state" });
  const runButton = h("button", { type: "button", class: "btn btn-run", "data-testid": "run" }, `▶ ${t("editor.run")}`);
  const formatButton = h("button", { type: "button", class: "btn btn-sm", "data-testid": "format" }, t("editor.format"));
  const resetButton = h("button", { type: "button", class: "btn btn-ghost btn-sm" }, t("editor.reset"));
  const compareButton = h("button", { type: "button", class: "btn btn-sm", "data-testid": "compare", "aria-pressed": "false" }, t("editor.compare"));
  const toolbar = h(
    "div",
    { class: "editor-toolbar" },
    runButton,
    formatButton,
    compareButton,
    resetButton,
    h("span", { class: "spacer" }),
    lintState,
    saveState,
  );
  const editorHost = h("div", { class: "editor-host" });
  const diffHost = h("div", { class: "editor-host", hidden: true });
  const resultsRoot = h("section", { class: "results", "data-testid": "results", "aria-live": "polite" });
  const root = h("section", { class: "pane pane-right" }, h("div", { class: "editor-card" }, toolbar, editorHost, diffHost), resultsRoot);
  return { root, saveState, lintState, runButton, formatButton, resetButton, compareButton, editorHost, diffHost, resultsRoot };
}
