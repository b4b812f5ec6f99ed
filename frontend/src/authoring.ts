/**
 * The admin's authoring page (modules/templates/admin/modules/module/authoring.html): a live preview of each guide
 * as the author types.
 *
 * Design choices:
 * - The server renders the preview with the learners' own pipeline (modules/handouts.py: Markdown, facts,
 *   figures, deviations, nh3 sanitising) at the staff-only, CSRF-protected preview URL; this page only typesets
 *   the result with the same adapters as the module page (KaTeX in `maths.ts`, Plotly in `charts.ts`), inside
 *   the same `.guide` styles, so what the author sees is what learners will see.
 * - Requests are debounced (400 ms after the last keystroke) and only the latest answer is shown, so a slow
 *   response never overwrites a newer one.
 * - The problems the content sync would report (an unknown fact or figure) are listed above the preview.
 */
import { renderGuidePlots } from "./charts";
import { decodeGuidePreview } from "./decode";
import { fill, h } from "./dom";
import { t } from "./i18n";
import { renderMaths } from "./maths";
import "./styles/tokens.css";
import "./styles/guide.css";
import "./styles/authoring.css";

const DEBOUNCE_MS = 400;

function csrfToken(form: HTMLFormElement | null): string {
  const input = form?.querySelector<HTMLInputElement>("input[name=csrfmiddlewaretoken]");
  return input?.value ?? "";
}

function wirePreview(source: HTMLTextAreaElement, target: HTMLElement, status: HTMLElement | null): void {
  const url = target.dataset.previewUrl ?? "";
  const lang = source.dataset.previewLang ?? "en";
  let timer: number | undefined;
  let latest = 0;

  const render = async (): Promise<void> => {
    const ticket = ++latest;
    if (status) fill(status, t("authoring.rendering"));
    try {
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(source.form), Accept: "application/json" },
        body: new URLSearchParams({ lang, text: source.value }),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const preview = decodeGuidePreview(await response.json());
      if (ticket !== latest) return;
      // Rendered and sanitised by the server (nh3), exactly as the module page embeds it: safe to insert.
      target.innerHTML = preview.html;
      target.dataset.previewState = "rendered";
      if (status) {
        fill(
          status,
          preview.problems.length
            ? h(
                "div",
                { class: "authoring-preview-problems" },
                t("authoring.problems"),
                h(
                  "ul",
                  {},
                  preview.problems.map((p) => h("li", {}, p)),
                ),
              )
            : t("authoring.rendered"),
        );
      }
      await Promise.all([renderMaths(target).catch(() => 0), renderGuidePlots(target).catch(() => 0)]);
    } catch (err) {
      if (ticket !== latest) return;
      target.dataset.previewState = "error";
      if (status) fill(status, t("authoring.failed", { error: err instanceof Error ? err.message : String(err) }));
    }
  };

  source.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void render(), DEBOUNCE_MS);
  });
  void render();
}

for (const target of document.querySelectorAll<HTMLElement>("[data-preview-for]")) {
  const source = document.getElementById(target.dataset.previewFor ?? "");
  if (source instanceof HTMLTextAreaElement) {
    wirePreview(source, target, document.querySelector<HTMLElement>(`[data-preview-status="${source.id}"]`));
  }
}
