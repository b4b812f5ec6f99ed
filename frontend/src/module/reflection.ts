/** The reflection tab: the module's questions, the learner's answers, and which choices were right. */
import { api, type ReflectionQuestion } from "../api";
import { fill, h, richText } from "../dom";
import { pick, t } from "../i18n";
import { describeError, toast } from "../page";
import { setModuleState, type Ctx } from "./context";
import { showUnlocks } from "./runs";

export function renderReflection(ctx: Ctx, correct: Record<string, boolean> = {}): void {
  const panel = ctx.panels.reflection;
  if (ctx.questions.length === 0) {
    fill(panel, h("div", { class: "empty" }, "—"));
    return;
  }
  const form = h("form", { "data-testid": "reflection-form" });
  for (const q of ctx.questions) form.append(question(q, ctx.answers[q.id], correct[q.id]));
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("reflection.submit"));
  const status = h("span", { class: "faint", role: "status", style: "margin-left:10px" });
  form.append(h("div", {}, submit, status));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    send(ctx, form, submit, status);
  });
  const selfCheck = ctx.selfCheck
    ? h("div", { class: "notice notice-info", role: "note", "data-testid": "self-check" }, t("reflection.self_check"))
    : null;
  fill(panel, selfCheck, h("p", { class: "muted" }, t("reflection.intro")), form);
}

/** One question: its prompt (with a right/wrong badge once answered) and its radio buttons or text box. */
function question(q: ReflectionQuestion, answer: string | undefined, correct: boolean | undefined): HTMLElement {
  const name = `q-${q.id}`;
  const verdict =
    correct === undefined
      ? null
      : h("span", { class: `badge ${correct ? "badge-pass" : "badge-fail"}` }, correct ? t("reflection.correct") : t("reflection.incorrect"));
  const body =
    q.kind === "choice"
      ? q.choices.map((c) =>
          h(
            "label",
            { class: "choice" },
            h("input", { type: "radio", name, value: c.id, checked: answer === c.id }),
            h("span", {}, richText(pick(c.text))),
          ),
        )
      : [h("textarea", { name, rows: 4, "data-question": q.id }, answer ?? "")];
  return h("div", { class: "question", "data-question": q.id }, h("div", { class: "prompt" }, richText(pick(q.prompt)), " ", verdict), ...body);
}

/** Post the answers (every question needs one), then show which were right and the module's new state. */
function send(ctx: Ctx, form: HTMLFormElement, submit: HTMLButtonElement, status: HTMLElement): void {
  const data = new FormData(form);
  const answers: Record<string, string> = {};
  for (const q of ctx.questions) {
    const v = data.get(`q-${q.id}`);
    if (typeof v === "string" && v.trim()) answers[q.id] = v.trim();
  }
  if (Object.keys(answers).length < ctx.questions.length) {
    status.textContent = t("reflection.required");
    return;
  }
  submit.disabled = true;
  api
    .reflect(ctx.detail.slug, answers)
    .then((res) => {
      ctx.answers = answers;
      renderReflection(ctx, res.correct);
      const saved = ctx.panels.reflection.querySelector("[role=status]");
      if (saved) saved.textContent = t("reflection.saved");
      setModuleState(ctx, res.state);
      if (res.state === "completed") ctx.results.notice("reflection-pending", null);
      showUnlocks(ctx, res.unlocked);
      toast(t("reflection.saved"));
    })
    .catch((err: unknown) => {
      toast(describeError(err), true);
      submit.disabled = false;
    });
}
