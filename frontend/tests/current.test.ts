import { describe, expect, it } from "vitest";
import { currentModule } from "../src/current";
import type { ModuleSummary } from "../src/decode";

function mod(slug: string, order: number, state: ModuleSummary["state"], attempts = 0, lastAt: string | null = null): ModuleSummary {
  return {
    slug,
    order,
    title: { en: slug, zh: slug },
    summary: { en: "", zh: "" },
    state,
    prerequisites: [],
    url: `/modules/${slug}/`,
    bestScore: null,
    maxScore: null,
    attempts,
    reflectionDone: state === "completed",
    lastStatus: null,
    lastAt,
    lastScore: null,
    lastMaxScore: null,
  };
}

describe("currentModule", () => {
  it("points at the module worked on most recently, not the first open one by order", () => {
    const modules = [
      mod("01", 1, "completed", 2),
      mod("02", 2, "unlocked"),
      mod("03", 3, "unlocked", 1, "2026-12-01T10:00:00Z"),
      mod("05", 5, "unlocked", 4, "2026-12-02T10:00:00Z"),
    ];
    expect(currentModule(modules)?.slug).toBe("05");
  });

  it("prefers a passed module whose reflection is missing: it is one answer away from opening the next ones", () => {
    const modules = [mod("01", 1, "passed", 3, "2026-11-01T00:00:00Z"), mod("02", 2, "unlocked", 1, "2026-12-01T00:00:00Z")];
    expect(currentModule(modules)?.slug).toBe("01");
  });

  it("falls back to the first open module in course order, and to none when nothing is open", () => {
    expect(currentModule([mod("01", 1, "completed"), mod("02", 2, "unlocked"), mod("03", 3, "unlocked")])?.slug).toBe("02");
    expect(currentModule([mod("01", 1, "locked")])).toBeUndefined();
  });
});
