import { describe, expect, it } from "vitest";
import { stepLine, stepPattern } from "../src/diffsteps";

const SOURCE = [
  "import torch",
  "",
  "# step1: the embedding",
  "def embed(x):",
  "    raise NotImplementedError('TODO(step 2): attention')",
  "# Step_3 — the head",
  "# step10: the sampler",
].join("\n");

describe("stepLine", () => {
  it("finds the line that names the step by its id", () => {
    expect(stepLine(SOURCE, "step1")).toBe(3);
  });

  it("finds `TODO(step 2)` for the id step2", () => {
    expect(stepLine(SOURCE, "step2")).toBe(5);
  });

  it("ignores case and accepts an underscore between the word and the number", () => {
    expect(stepLine(SOURCE, "step3")).toBe(6);
  });

  it("does not take step10 for step1", () => {
    expect(stepLine("# step10 first\n# step1 then", "step1")).toBe(2);
  });

  it("answers null when no line names the step", () => {
    expect(stepLine(SOURCE, "step4")).toBeNull();
  });

  it("matches an id without digits only by the id itself", () => {
    expect(stepLine("# step one\n# intro: setup", "intro")).toBe(2);
    expect(stepLine("# step one", "intro")).toBeNull();
  });

  it("treats an id's regular-expression characters literally", () => {
    expect(stepPattern("a.b").test("axb")).toBe(false);
    expect(stepLine("# axb\n# a.b here", "a.b")).toBe(2);
  });
});
