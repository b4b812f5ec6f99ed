/**
 * The micro-survey (`/api/modules/<slug>/survey/`): a short, skippable prompt at the top of the guide when a module
 * starts ("how confident are you about …?", 1–5) and, once it passes, above the results (confidence again,
 * difficulty, helpfulness, an optional comment). Nothing waits on it: the editor and the tests work whether it is
 * answered, skipped or ignored, and a failed request only shows a toast.
 */
import { api, type Survey, type SurveyStage } from "../api";
import { h } from "../dom";
import { t } from "../i18n";
import { describeError, toast } from "../page";
import type { Ctx } from "./context";

type Rated = "confidence" | "difficulty" | "helpfulness";
const AFTER_QUESTIONS: { key: Rated; text: "confidence_after" | "difficulty" | "helpfulness" }[] = [
  { key: "confidence", text: "confidence_after" },
  { key: "difficulty", text: "difficulty" },
  { key: "helpfulness", text: "helpfulness" },
];

/** Ask whatever the server says is due now (on page load, and after a verdict that passed the module). */
export async function showSurvey(ctx: Ctx): Promise<void> {
  let survey: Survey;
  try {
    survey = await api.survey(ctx.detail.slug);
  } catch (err) {
    toast(describeError(err), true);
    return;
  }
  if (survey.due !== "start") ctx.panels.guide.querySelector("[data-testid=survey-start]")?.remove();
  if (survey.due === "start") showStart(ctx, survey);
  else if (survey.due === "after") showAfter(ctx, survey);
}

/** One 1–5 question as a radio group; `onPick` hears a choice (the start prompt sends at once). */
function scale(name: string, question: string, onPick?: (n: number) => void): HTMLElement {
  const choices = [1, 2, 3, 4, 5].map((n) => {
    const input = h("input", { type: "radio", name, value: String(n), "aria-label": `${question} ${n}` });
    if (onPick) input.addEventListener("change", () => onPick(n));
    return h("label", { class: "survey-choice", "data-rating": String(n) }, input, h("span", {}, String(n)));
  });
  return h(
    "fieldset",
    { class: "survey-question", "data-question": name },
    h("legend", {}, question),
    h("div", { class: "survey-scale" }, ...choices),
  );
}

function send(ctx: Ctx, card: HTMLElement, body: Record<string, string | number | boolean>): void {
  for (const el of Array.from(card.querySelectorAll<HTMLInputElement | HTMLButtonElement>("input, button, textarea"))) el.disabled = true;
  api
    .surveyAnswer(ctx.detail.slug, body)
    .then(() => {
      card.replaceChildren(h("p", { class: "muted", role: "status", "data-testid": "survey-thanks" }, t("survey.thanks")));
      window.setTimeout(() => card.remove(), 2500);
    })
    .catch((err: unknown) => {
      toast(describeError(err), true);
      for (const el of Array.from(card.querySelectorAll<HTMLInputElement | HTMLButtonElement>("input, button, textarea"))) el.disabled = false;
    });
}

function skipButton(ctx: Ctx, card: HTMLElement, stage: SurveyStage): HTMLElement {
  const skip = h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "survey-skip" }, t("survey.skip"));
  skip.addEventListener("click", () => send(ctx, card, { stage, skipped: true }));
  return skip;
}

function showStart(ctx: Ctx, survey: Survey): void {
  ctx.panels.guide.querySelector("[data-testid=survey-start]")?.remove();
  const card = h("section", { class: "survey-card", "data-testid": "survey-start", "aria-label": t("survey.start_title") });
  card.append(
    h("div", { class: "survey-head" }, h("strong", {}, t("survey.start_title")), h("span", { class: "faint" }, t("survey.scale"))),
    scale("confidence", survey.questions.confidence_before, (n) => send(ctx, card, { stage: "start", confidence: n })),
    h("div", { class: "survey-actions" }, skipButton(ctx, card, "start")),
  );
  ctx.panels.guide.prepend(card);
}

function showAfter(ctx: Ctx, survey: Survey): void {
  const card = h("form", { class: "survey-card", "data-testid": "survey-after", "aria-label": t("survey.after_title") });
  const status = h("span", { class: "faint", role: "status" });
  const comment = h("textarea", { name: "comment", rows: 2, maxlength: 2000, "data-testid": "survey-comment" });
  card.append(
    h("div", { class: "survey-head" }, h("strong", {}, t("survey.after_title")), h("span", { class: "faint" }, t("survey.scale"))),
    ...AFTER_QUESTIONS.map((q) => scale(q.key, survey.questions[q.text])),
    h("label", { class: "survey-comment" }, `${survey.questions.comment} `, comment),
    h(
      "div",
      { class: "survey-actions" },
      h("button", { type: "submit", class: "btn btn-primary btn-sm", "data-testid": "survey-send" }, t("survey.send")),
      skipButton(ctx, card, "after"),
      status,
    ),
  );
  card.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = new FormData(card);
    const body: Record<string, string | number | boolean> = { stage: "after" };
    for (const q of AFTER_QUESTIONS) {
      const v = data.get(q.key);
      if (typeof v !== "string") {
        status.textContent = t("survey.required");
        return;
      }
      body[q.key] = Number(v);
    }
    const text = data.get("comment");
    if (typeof text === "string" && text.trim()) body.comment = text.trim();
    send(ctx, card, body);
  });
  // above the results (whose notices are cleared with each run), below the editor: beside the verdict
  document.querySelector("[data-testid=survey-after]")?.remove();
  ctx.results.root.before(card);
}
