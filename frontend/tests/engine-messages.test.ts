import { describe, expect, it } from "vitest";
import { localizeEngine } from "../src/engine-messages";
import { ENGINE_MESSAGES } from "../src/gen/engine-messages";

/** A value each placeholder could hold: a number, a function name, or free text with punctuation in it. */
function sample(name: string): string {
  const pattern = ENGINE_MESSAGES.values[name];
  if (pattern === undefined) return "ValueError: bad (input) 3.";
  const fits = ["12.5", "tokenizer.encode", " (killed)"].find((v) => new RegExp(`^(?:${pattern})$`).test(v));
  if (fits === undefined) throw new Error(`no sample value for {${name}}`);
  return fits;
}

function filled(template: string): string {
  return template.replace(/\{(\w+)(?::[^}]*)?\}/g, (_w, name: string) => sample(name));
}

describe("engine messages on a Chinese page", () => {
  const entries = Object.entries(ENGINE_MESSAGES.messages);

  it("has every message in both languages with the same placeholders", () => {
    expect(entries.length).toBeGreaterThan(30);
    const names = (text: string) => [...text.matchAll(/\{(\w+)/g)].map((m) => m[1]).sort();
    for (const [key, { en, zh }] of entries) {
      expect(names(zh), key).toEqual(names(en));
      expect(zh, key).not.toEqual(en);
    }
  });

  it("shows each English sentence in Chinese, values carried over", () => {
    for (const [key, { en, zh }] of entries) {
      expect(localizeEngine(filled(en), "zh-hans"), key).toBe(filled(zh));
    }
  });

  it("translates the engine's sentences inside a longer message and leaves the rest as written", () => {
    const text =
      "greet() ran out of time: a call took longer than 10 s and was stopped. 3 of 5 tests passed.\n" + "AssertionError: expected 'Hello, Ada!'";
    expect(localizeEngine(text, "zh-hans")).toBe(
      "greet() 超时：一次调用超过了 10 秒，已被停止。 5 个测试中通过了 3 个。\nAssertionError: expected 'Hello, Ada!'",
    );
    expect(localizeEngine("Hidden test failed: your code raised an error or stopped.", "zh-hans")).toBe(
      "隐藏测试未通过：你的代码抛出了错误或中途停止。",
    );
  });

  it("leaves English pages and unknown text alone", () => {
    expect(localizeEngine("All 3 tests passed.", "en")).toBe("All 3 tests passed.");
    expect(localizeEngine("expected 4, got 5", "zh-hans")).toBe("expected 4, got 5");
  });
});
