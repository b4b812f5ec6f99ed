/**
 * Dashboard (`/`): the 16-module map in unlock order with each module's state, overall progress, latest results,
 * modules to review, badges, the learning log (notes), and for instructors the mentor queue (open review requests).
 *
 * Design choices:
 * - Renders from the page data Django embedded (no request on load), decoded against its schema
 *   (`page-dashboard.schema.json`); the notes form posts to `/api/notes/` and re-renders the list from the
 *   server's answer.
 * - The "current" module (`currentModule`: the one in progress) is highlighted, so "what next" is one glance.
 * - Badges not yet earned are shown too (greyed, with `count of target`): a badge also says what to try next.
 * - "This week" (modules passed, attempts, time studied, streak) and the certificates come from milestones'
 *   page data; the weekly report and the learning log download as Markdown, and a note can be a file upload.
 * - Locked cards are not links; they say which modules unlock them. The map also draws the unlock graph
 *   behind the cards (`mapgraph.ts`, which documents its layout and phone choices).
 */
import { api, decodeDashboardPage, type Award, type Milestones, type ModuleSummary, type Note, type ReviewItem, type ThreadSummary } from "./api";
import { ago, byId, fill, h } from "./dom";
import { lang, pick, t, type MessageKey } from "./i18n";
import { currentModule } from "./current";
import { drawMapGraph } from "./mapgraph";
import { boot, describeError, showFatal, toast } from "./page";

const page = boot();
const root = byId("dashboard-root");

function stateBadge(state: ModuleSummary["state"]): HTMLElement {
  return h("span", { class: `badge badge-${state}`, "data-state": state }, t(`state.${state}` as MessageKey));
}

function orderLabel(m: ModuleSummary): string {
  return String(m.order).padStart(2, "0");
}

function moduleCard(m: ModuleSummary, current: boolean, bySlug: Map<string, ModuleSummary>): HTMLElement {
  const classes = `module-card is-${m.state}${current ? " is-current" : ""}`;
  const prereqNames = m.prerequisites.map((slug) => {
    const p = bySlug.get(slug);
    return p ? orderLabel(p) : slug;
  });
  const meta =
    m.state === "locked"
      ? h("span", {}, prereqNames.length ? t("dashboard.locked_after", { list: prereqNames.join(", ") }) : "")
      : h(
          "span",
          {},
          m.bestScore !== null && m.maxScore
            ? t("dashboard.best", { pct: Math.round((100 * m.bestScore) / m.maxScore) })
            : m.attempts > 0
              ? `${m.attempts}×`
              : "",
        );
  const action =
    m.state === "locked"
      ? null
      : h(
          "span",
          { class: "faint" },
          current ? t("dashboard.continue") : m.state === "unlocked" ? t("dashboard.start") : t("dashboard.review"),
          " →",
        );
  const body = [
    h("div", { class: "top" }, h("span", { class: "num" }, orderLabel(m)), stateBadge(m.state)),
    h("div", { class: "title" }, pick(m.title)),
    h("div", { class: "summary" }, pick(m.summary)),
    h("div", { class: "meta" }, meta, action),
  ];
  if (m.state === "locked") {
    return h("div", { class: classes, "data-module": m.slug, "aria-disabled": "true" }, ...body);
  }
  return h("a", { class: classes, href: m.url, "data-module": m.slug }, ...body);
}

function renderMap(modules: ModuleSummary[]): HTMLElement {
  const bySlug = new Map(modules.map((m) => [m.slug, m]));
  const current = currentModule(modules);
  const map = h(
    "div",
    { class: "module-map", "data-testid": "module-map" },
    modules.map((m) => moduleCard(m, m === current, bySlug)),
  );
  drawMapGraph(map, modules);
  return h("section", { class: "card card-pad", "aria-labelledby": "map-title" }, h("h2", { id: "map-title" }, t("dashboard.map")), map);
}

function renderProgress(modules: ModuleSummary[]): HTMLElement {
  const done = modules.filter((m) => m.state === "passed" || m.state === "completed").length;
  const total = modules.length;
  const pct = total ? Math.round((100 * done) / total) : 0;
  return h(
    "div",
    { class: "progress-wrap" },
    h(
      "div",
      { class: "progress-label" },
      h("span", { "data-testid": "progress" }, t("dashboard.progress", { done, total })),
      h("span", {}, `${pct}%`),
    ),
    h(
      "div",
      { class: "progress-bar", role: "progressbar", "aria-valuenow": pct, "aria-valuemin": 0, "aria-valuemax": 100 },
      h("span", { style: `width:${pct}%` }),
    ),
  );
}

function renderLatest(modules: ModuleSummary[]): HTMLElement {
  const recent = modules
    .filter((m) => m.lastStatus !== null)
    .sort((a, b) => (b.lastAt ?? "").localeCompare(a.lastAt ?? ""))
    .slice(0, 6);
  return h(
    "section",
    { class: "card card-pad" },
    h("h2", {}, t("dashboard.latest")),
    recent.length === 0
      ? h("div", { class: "empty" }, t("dashboard.no_results"))
      : h(
          "ul",
          { class: "list" },
          recent.map((m) =>
            h(
              "li",
              {},
              h("a", { href: m.url }, `${orderLabel(m)} · ${pick(m.title)}`),
              h(
                "span",
                {},
                h("span", { class: `badge badge-${m.lastStatus ?? "queued"}` }, t(`status.${m.lastStatus ?? "queued"}` as MessageKey)),
                " ",
                h("span", { class: "faint" }, ago(m.lastAt, lang())),
              ),
            ),
          ),
        ),
  );
}

function renderReview(items: ReviewItem[]): HTMLElement {
  return h(
    "section",
    { class: "card card-pad" },
    h("h2", {}, t("dashboard.to_review")),
    items.length === 0
      ? h("div", { class: "empty" }, t("dashboard.nothing_to_review"))
      : h(
          "ul",
          { class: "list" },
          items.map((r) =>
            h(
              "li",
              {},
              h("a", { href: `/modules/${encodeURIComponent(r.slug)}/` }, pick(r.title)),
              h(
                "span",
                { class: `badge ${r.reason === "last_attempt_failed" ? "badge-fail" : "badge-unlocked"}` },
                r.reason === "last_attempt_failed" ? t("dashboard.review_failed") : t("dashboard.review_reflection"),
              ),
            ),
          ),
        ),
  );
}

function duration(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  return minutes >= 60 ? t("week.hours", { h: Math.floor(minutes / 60), m: minutes % 60 }) : t("week.minutes", { m: minutes });
}

function stat(label: string, value: string, testid: string): HTMLElement {
  return h("div", { class: "week-stat", "data-testid": testid }, h("div", { class: "week-value" }, value), h("div", { class: "week-label" }, label));
}

/** This week's report and the certificates earned (each opens its printable, verifiable page). */
function renderWeek(m: Milestones): HTMLElement {
  const w = m.weekly;
  const passed = w.modulesPassed.map((p) => p.title).join(" · ");
  const certificates = m.certificates.length
    ? h(
        "ul",
        { class: "list", "data-testid": "certificates" },
        m.certificates.map((c) =>
          h(
            "li",
            { "data-scope": c.scope },
            h("span", { class: "cert-mark", "aria-hidden": "true" }, "✓"),
            h("strong", {}, c.title),
            h("a", { href: c.url, "data-testid": "certificate-link" }, t("certificates.view")),
          ),
        ),
      )
    : h("div", { class: "empty", "data-testid": "certificates" }, t("certificates.none"));
  return h(
    "section",
    { class: "card card-pad", "data-testid": "weekly-report", "data-week": w.weekStart },
    h(
      "div",
      { class: "card-head" },
      h("h2", {}, t("week.title")),
      h("a", { href: m.urls.weeklyReport, class: "faint", download: "", "data-testid": "weekly-download" }, t("week.download")),
    ),
    h(
      "div",
      { class: "week-stats" },
      stat(t("week.passed"), String(w.modulesPassed.length), "week-passed"),
      stat(t("week.attempts"), String(w.attempts), "week-attempts"),
      stat(t("week.time"), duration(w.studySeconds), "week-time"),
      stat(t("week.streak"), String(w.streakDays), "week-streak"),
    ),
    passed ? h("div", { class: "faint week-modules" }, passed) : null,
    h("div", { class: "faint week-total" }, t("week.total", { time: duration(w.totalStudySeconds) })),
    h("h3", { class: "section-title" }, t("certificates.title")),
    certificates,
  );
}

/** Upload a Markdown/text file as a note (on the module chosen in the form), and export the learning log. */
function noteTools(milestones: Milestones, select: HTMLSelectElement, paint: (notes: Note[]) => void): HTMLElement {
  const file = h("input", {
    type: "file",
    accept: ".md,.markdown,.txt,text/markdown,text/plain",
    class: "visually-hidden",
    "data-testid": "note-file",
  });
  const pickFile = h("button", { type: "button", class: "link-button" }, t("notes.upload"));
  pickFile.addEventListener("click", () => file.click());
  file.addEventListener("change", () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    api
      .uploadNote(milestones.urls.noteUpload, chosen, select.value || null)
      .then(() => api.notes())
      .then((fresh) => {
        paint(fresh);
        toast(t("notes.uploaded"));
      })
      .catch((err: unknown) => toast(describeError(err), true))
      .finally(() => (file.value = ""));
  });
  const exportLink = h("a", { href: milestones.urls.learningLog, download: "", "data-testid": "learning-log-export" }, t("notes.export"));
  return h("span", { class: "note-tools" }, pickFile, file, exportLink);
}

function renderNotes(notes: Note[], modules: ModuleSummary[], milestones: Milestones | null, onAdded: () => void): HTMLElement {
  const list = h("ul", { class: "list", "data-testid": "notes" });
  const paint = (items: Note[]): void => {
    if (items.length === 0) {
      fill(list, h("li", { class: "empty" }, t("dashboard.no_notes")));
      return;
    }
    fill(
      list,
      items.map((n) =>
        h(
          "li",
          { class: "note-item" },
          h("div", { class: "note-meta" }, [n.moduleTitle ? pick(n.moduleTitle) : n.module, ago(n.createdAt, lang())].filter(Boolean).join(" · ")),
          h("p", {}, n.text),
        ),
      ),
    );
  };
  paint(notes);
  const text = h("textarea", { name: "text", rows: 3, placeholder: t("dashboard.note_placeholder"), required: true, maxlength: 5000 });
  const select = h(
    "select",
    { name: "module", class: "select", "aria-label": t("dashboard.note_module") },
    h("option", { value: "" }, `— ${t("dashboard.note_module")} —`),
    modules.filter((m) => m.state !== "locked").map((m) => h("option", { value: m.slug }, `${orderLabel(m)} · ${pick(m.title)}`)),
  );
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-sm" }, t("dashboard.note_add"));
  const form = h("form", { class: "note-form" }, text, h("div", { class: "row" }, select, submit));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = text.value.trim();
    if (!value) return;
    submit.disabled = true;
    api
      .addNote(value, select.value || null)
      .then(() => api.notes())
      .then((fresh) => {
        text.value = "";
        paint(fresh);
        onAdded();
      })
      .catch((err: unknown) => toast(describeError(err), true))
      .finally(() => (submit.disabled = false));
  });
  const head = h("div", { class: "card-head" }, h("h2", {}, t("dashboard.notes")));
  if (milestones) head.append(noteTools(milestones, select, paint));
  return h("section", { class: "card card-pad" }, head, form, list);
}

/** The badges card; `refresh` re-reads the badges and repaints the card in place (after a note, say). */
function renderAwards(awards: Award[]): { card: HTMLElement; refresh: () => void } {
  const card = awardsCard(awards);
  const refresh = (): void => {
    api
      .badges()
      .then((fresh) => card.replaceChildren(...awardsCard(fresh).childNodes))
      .catch(() => undefined); // the card stays as it was; the next page load shows the new count
  };
  return { card, refresh };
}

function awardsCard(awards: Award[]): HTMLElement {
  const earned = awards.filter((a) => a.earned).length;
  return h(
    "section",
    { class: "card card-pad", "data-testid": "badges" },
    h(
      "div",
      { class: "card-head" },
      h("h2", {}, t("dashboard.badges")),
      h("span", { class: "faint" }, t("dashboard.badges_count", { n: earned, total: awards.length })),
    ),
    h(
      "ul",
      { class: "awards" },
      awards.map((a) =>
        h(
          "li",
          { class: `award ${a.earned ? "is-earned" : "is-pending"}`, "data-badge": a.id, title: a.description },
          h("span", { class: "award-mark", "aria-hidden": "true" }, a.earned ? "★" : "☆"),
          h(
            "span",
            { class: "award-text" },
            h("strong", {}, a.title),
            h("span", { class: "award-desc" }, a.description),
            h(
              "span",
              { class: "faint" },
              a.earned
                ? t("dashboard.badge_earned", { when: ago(a.earnedAt, lang()) })
                : t("dashboard.badge_progress", { count: a.count, target: a.target }),
            ),
          ),
        ),
      ),
    ),
  );
}

/** Instructors only: the oldest open review requests, each linking to its thread on the module page. */
function renderMentorQueue(items: ThreadSummary[]): HTMLElement {
  return h(
    "section",
    { class: "card card-pad", "data-testid": "mentor-queue" },
    h("h2", {}, t("dashboard.mentor_queue")),
    h("p", {}, h("a", { href: "/mentor/reviews/", "data-testid": "mentor-queue-page-link" }, t("dashboard.mentor_queue_page"))),
    items.length === 0
      ? h("div", { class: "empty" }, t("dashboard.mentor_queue_empty"))
      : h(
          "ul",
          { class: "list" },
          items.map((r) =>
            h(
              "li",
              {},
              h("a", { href: r.url }, `${r.moduleTitle} · ${r.title}`),
              h("span", { class: "faint" }, `${r.author} · ${ago(r.createdAt, lang())}`),
            ),
          ),
        ),
  );
}

interface DashboardData {
  milestones: Milestones | null;
  modules: ModuleSummary[];
  notes: Note[];
  review: ReviewItem[];
  awards: Award[];
  /** `null` for learners (the card is not shown). */
  mentorQueue: ThreadSummary[] | null;
}

function render(d: DashboardData): void {
  const side = [renderLatest(d.modules)];
  if (d.mentorQueue !== null) side.push(renderMentorQueue(d.mentorQueue));
  if (d.milestones) side.push(renderWeek(d.milestones));
  const awards = renderAwards(d.awards);
  side.push(renderReview(d.review), awards.card, renderNotes(d.notes, d.modules, d.milestones, awards.refresh));
  fill(
    root,
    h("div", { class: "dash-head" }, h("h1", {}, t("dashboard.title")), renderProgress(d.modules)),
    h("div", { class: "dash-grid" }, renderMap(d.modules), h("div", { class: "dash-side" }, side)),
  );
}

function load(): void {
  try {
    const d = decodeDashboardPage(page.data);
    render({ ...d, mentorQueue: page.context.isInstructor ? d.mentorQueue : null });
  } catch (err) {
    showFatal(root, err, load);
  }
}

load();
// a dashboard restored from the back/forward cache would show the progress and badges of before the module page
window.addEventListener("pageshow", (ev) => {
  if (ev.persisted) window.location.reload();
});
