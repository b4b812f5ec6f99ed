/**
 * The admin's live guide preview (authoring.ts): it posts the guide to the preview URL with the form's CSRF token,
 * debounced while the author types, shows only the latest answer, and lists what the content sync would refuse.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

interface Call {
  url: string;
  text: string;
  lang: string;
  csrf: string;
}

let calls: Call[];
let answers: ((body: unknown) => void)[];

function page(): void {
  document.body.innerHTML = `
    <form><input type="hidden" name="csrfmiddlewaretoken" value="tok-123">
      <textarea id="id_text-guide_en" data-preview-lang="en"># Hi</textarea>
    </form>
    <div data-preview-status="id_text-guide_en"></div>
    <article class="guide" data-preview-for="id_text-guide_en" data-preview-url="/admin/preview/"></article>`;
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function type(text: string): void {
  const area = document.querySelector<HTMLTextAreaElement>("textarea");
  if (!area) throw new Error("no textarea");
  area.value = text;
  area.dispatchEvent(new Event("input"));
}

beforeEach(async () => {
  vi.useFakeTimers();
  vi.resetModules();
  calls = [];
  answers = [];
  vi.stubGlobal(
    "fetch",
    vi.fn((url: string, init: RequestInit) => {
      const body = init.body as URLSearchParams;
      const headers = init.headers as Record<string, string>;
      calls.push({ url, text: body.get("text") ?? "", lang: body.get("lang") ?? "", csrf: headers["X-CSRFToken"] ?? "" });
      return new Promise((resolve) => answers.push((json) => resolve({ ok: true, status: 200, json: () => Promise.resolve(json) })));
    }),
  );
  page();
  await import("../src/authoring");
});

afterEach(() => vi.useRealTimers());

function preview(): HTMLElement {
  const el = document.querySelector<HTMLElement>("article");
  if (!el) throw new Error("no preview");
  return el;
}

function status(): string {
  return document.querySelector("[data-preview-status]")?.textContent ?? "";
}

describe("the live preview", () => {
  it("renders the guide once on load, posting it with the form's CSRF token", async () => {
    expect(calls).toEqual([{ url: "/admin/preview/", text: "# Hi", lang: "en", csrf: "tok-123" }]);
    answers[0]?.({ html: "<h1>Hi</h1>", problems: [] });
    await flush();
    expect(preview().innerHTML).toBe("<h1>Hi</h1>");
    expect(preview().dataset.previewState).toBe("rendered");
  });

  it("waits for a pause in typing and sends the latest text only", () => {
    type("# H");
    vi.advanceTimersByTime(200);
    type("# He");
    vi.advanceTimersByTime(399);
    expect(calls).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(calls.map((c) => c.text)).toEqual(["# Hi", "# He"]);
  });

  it("never lets a slow answer overwrite a newer one", async () => {
    type("# New");
    vi.advanceTimersByTime(400);
    answers[1]?.({ html: "<h1>New</h1>", problems: [] });
    await flush();
    answers[0]?.({ html: "<h1>Old</h1>", problems: [] });
    await flush();
    expect(preview().innerHTML).toBe("<h1>New</h1>");
  });

  it("lists what the content sync would refuse", async () => {
    answers[0]?.({ html: "<p>[unknown fact]</p>", problems: ["unknown fact 'nope'"] });
    await flush();
    expect(status()).toContain("unknown fact 'nope'");
  });

  it("says so when an answer breaks the contract", async () => {
    answers[0]?.({ html: 1 });
    await flush();
    expect(preview().dataset.previewState).toBe("error");
    expect(status()).toContain("guide preview");
  });
});
