/**
 * Where a step starts in a file, for the reference diff's "jump to step" (diff.ts).
 *
 * Starters and references mark their sections with comments naming the step: the step's id (`step1`), or
 * `step 1` / `step_1` / `step-1` / `TODO(step 1)`. The match is case-insensitive and on word boundaries, so
 * `step1` never matches inside `step10`.
 */

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The pattern that names step `stepId` in a source line. */
export function stepPattern(stepId: string): RegExp {
  const alternatives = [`\\b${escapeRegExp(stepId)}\\b`];
  const digits = stepId.replace(/\D/g, "");
  if (digits) alternatives.push(`\\bstep[ _-]?${digits}\\b`);
  return new RegExp(alternatives.join("|"), "i");
}

/** The 1-based number of the first line of `text` that names step `stepId`, or null when none does. */
export function stepLine(text: string, stepId: string): number | null {
  const pattern = stepPattern(stepId);
  const index = text.split("\n").findIndex((line) => pattern.test(line));
  return index < 0 ? null : index + 1;
}
