/** "Compare with reference": swaps the editor for a Monaco diff of the learner's files against the reference. */
import { ApiError, api } from "../api";
import type { Reference } from "../decode";
import { pick, t } from "../i18n";
import { describeError, toast } from "../page";
import type { Ctx } from "./context";

export async function toggleDiff(ctx: Ctx, button: HTMLButtonElement, editorHost: HTMLElement, diffHost: HTMLElement): Promise<void> {
  if (!diffHost.hidden) {
    diffHost.hidden = true;
    editorHost.hidden = false;
    button.textContent = t("editor.compare");
    button.setAttribute("aria-pressed", "false");
    ctx.editor.focus();
    return;
  }
  let reference: Reference;
  try {
    reference = await api.reference(ctx.detail.slug);
  } catch (err) {
    toast(err instanceof ApiError && err.status === 403 ? t("diff.locked") : describeError(err), true);
    return;
  }
  const closed = ctx.detail.steps.filter((s) => reference.steps[s.id] && !reference.steps[s.id]?.open);
  if (closed.length > 0) {
    const list = closed
      .map((s) => {
        const gate = reference.steps[s.id];
        return t("diff.step_closed", { title: pick(s.title), versions: gate?.versions ?? 0, needed: gate?.needed ?? 0 });
      })
      .join("; ");
    toast(t("diff.partial", { steps: list }));
  }
  const { ReferenceDiff } = await import("../diff");
  ctx.diff ??= new ReferenceDiff(diffHost, ctx.detail.steps);
  editorHost.hidden = true;
  diffHost.hidden = false;
  ctx.diff.setFiles(reference.files, ctx.editor.files());
  button.textContent = t("editor.back_to_code");
  button.setAttribute("aria-pressed", "true");
}
