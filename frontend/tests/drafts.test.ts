import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DraftSaver, initialFiles, serverFiles, type SaveState } from "../src/module/drafts";

const { saveDraft } = vi.hoisted(() => ({ saveDraft: vi.fn<(slug: string, files: Record<string, string>, keepalive?: boolean) => Promise<void>>() }));
vi.mock("../src/api", () => ({ api: { saveDraft } }));

const KEY = "lab:draft:ada:01-hello";

beforeEach(() => {
  vi.useFakeTimers();
  window.localStorage.clear();
  saveDraft.mockReset();
  saveDraft.mockResolvedValue(undefined);
});

afterEach(() => {
  vi.useRealTimers();
});

function saver(): { drafts: DraftSaver; states: SaveState[] } {
  const states: SaveState[] = [];
  const drafts = new DraftSaver("01-hello", "ada", { "hello.py": "starter" }, (s) => states.push(s));
  return { drafts, states };
}

function local(): { files: Record<string, string>; synced: boolean } {
  return JSON.parse(window.localStorage.getItem(KEY) ?? "null") as { files: Record<string, string>; synced: boolean };
}

describe("DraftSaver", () => {
  it("keeps every keystroke locally at once and saves to the server after 800 ms of quiet", async () => {
    const { drafts, states } = saver();
    drafts.changed({ "hello.py": "a" });
    drafts.changed({ "hello.py": "ab" });
    expect(local()).toMatchObject({ files: { "hello.py": "ab" }, synced: false });
    expect(drafts.unsyncedLocal()).toEqual({ "hello.py": "ab" });
    await vi.advanceTimersByTimeAsync(799);
    expect(saveDraft).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(saveDraft).toHaveBeenCalledExactlyOnceWith("01-hello", { "hello.py": "ab" });
    expect(states).toEqual(["dirty", "saving", "saved"]);
    expect(local().synced).toBe(true);
    expect(drafts.unsyncedLocal()).toBeNull();
  });

  it("saves again when the learner typed during a save, once, ending with the newest text", async () => {
    let finish: () => void = () => undefined;
    saveDraft.mockImplementationOnce(() => new Promise<void>((resolve) => (finish = resolve)));
    const { drafts, states } = saver();
    drafts.changed({ "hello.py": "one" });
    await vi.advanceTimersByTimeAsync(800);
    drafts.changed({ "hello.py": "two" });
    finish();
    await vi.advanceTimersByTimeAsync(800);
    expect(saveDraft.mock.calls.map((c) => c[1])).toEqual([{ "hello.py": "one" }, { "hello.py": "two" }]);
    expect(states.at(-1)).toBe("saved");
    expect(local()).toMatchObject({ files: { "hello.py": "two" }, synced: true });
  });

  it("says so when a save fails and retries after 3 s", async () => {
    saveDraft.mockRejectedValueOnce(new Error("offline"));
    const { drafts, states } = saver();
    drafts.changed({ "hello.py": "x" });
    await vi.advanceTimersByTimeAsync(800);
    expect(states.at(-1)).toBe("error");
    expect(drafts.unsyncedLocal()).toEqual({ "hello.py": "x" });
    await vi.advanceTimersByTimeAsync(3000);
    expect(saveDraft).toHaveBeenCalledTimes(2);
    expect(states.at(-1)).toBe("saved");
  });

  it("flush() saves now and resolves once the server has the text", async () => {
    const { drafts } = saver();
    drafts.changed({ "hello.py": "run me" });
    const flushed = drafts.flush();
    await vi.advanceTimersByTimeAsync(50);
    await flushed;
    expect(saveDraft).toHaveBeenCalledExactlyOnceWith("01-hello", { "hello.py": "run me" });
    expect(local().synced).toBe(true);
  });

  it("sends unsaved text with a keepalive request when the page goes away", () => {
    const { drafts } = saver();
    drafts.changed({ "hello.py": "last words" });
    window.dispatchEvent(new Event("pagehide"));
    expect(saveDraft).toHaveBeenCalledWith("01-hello", { "hello.py": "last words" }, true);
  });
});

describe("initialFiles", () => {
  const server = serverFiles([
    { path: "a.py", starter: "starter a", draft: "draft a" },
    { path: "b.py", starter: "starter b", draft: null },
  ]);

  it("opens the server draft, else the starter", () => {
    expect(server).toEqual({ "a.py": "draft a", "b.py": "starter b" });
    expect(initialFiles(server, null)).toEqual({ files: server, restored: false });
  });

  it("lets an unsynced local copy win where it differs, and only for the module's files", () => {
    const opened = initialFiles(server, { "a.py": "typed offline", "b.py": "starter b", "stray.py": "x" });
    expect(opened).toEqual({ files: { "a.py": "typed offline", "b.py": "starter b" }, restored: true });
  });
});
