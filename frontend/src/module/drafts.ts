/**
 * Draft saving for the module page's editor.
 *
 * Design choices:
 * - Drafts autosave to the server (`PUT .../draft/`, debounced) and to localStorage on every keystroke; the
 *   local copy is marked "synced" once the server has it. On load, an unsynced local copy newer than the server
 *   draft wins and is pushed, so a reload or a crash never loses keystrokes. A `pagehide` flush uses a
 *   keepalive request.
 */
import { api, type ModuleFile } from "../api";
import { debounce } from "../dom";

export type SaveState = "saved" | "dirty" | "saving" | "error";

interface LocalDraft {
  files: Record<string, string>;
  synced: boolean;
  at: number;
}

export class DraftSaver {
  private state: SaveState = "saved";
  private saving = false;
  private again = false;
  private latest: Record<string, string>;
  private readonly key: string;
  private readonly soon: ReturnType<typeof debounce<[]>>;
  private retryTimer: number | null = null;

  constructor(
    private readonly slug: string,
    user: string | null,
    initial: Record<string, string>,
    private readonly onState: (state: SaveState) => void,
  ) {
    this.key = `lab:draft:${user ?? "anon"}:${slug}`;
    this.latest = initial;
    this.soon = debounce(() => void this.save(), 800);
    window.addEventListener("pagehide", () => this.flushOnExit());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") this.flushOnExit();
    });
  }

  /** The local copy if it holds keystrokes the server may not have. */
  unsyncedLocal(): Record<string, string> | null {
    try {
      const raw = window.localStorage.getItem(this.key);
      if (!raw) return null;
      const local = JSON.parse(raw) as LocalDraft;
      return local.synced ? null : local.files;
    } catch {
      return null;
    }
  }

  changed(files: Record<string, string>): void {
    this.latest = files;
    this.writeLocal(false);
    this.setState("dirty");
    this.soon();
  }

  /** Save now (before a run); resolves when the server has the latest text. */
  async flush(): Promise<void> {
    this.soon.flush();
    while (this.saving || this.state === "dirty") {
      if (!this.saving) await this.save();
      else await new Promise((r) => window.setTimeout(r, 50));
    }
  }

  private async save(): Promise<void> {
    if (this.state === "saved") return; // the server has the latest text (a debounced call after a follow-up save)
    if (this.saving) {
      this.again = true;
      return;
    }
    this.saving = true;
    this.setState("saving");
    const sent = this.latest;
    try {
      await api.saveDraft(this.slug, sent);
      if (sent === this.latest && !this.again) {
        this.writeLocal(true);
        this.setState("saved");
      }
    } catch {
      this.setState("error");
      if (this.retryTimer === null) {
        this.retryTimer = window.setTimeout(() => {
          this.retryTimer = null;
          void this.save();
        }, 3000);
      }
    } finally {
      this.saving = false;
    }
    if (this.again || (sent !== this.latest && this.state !== "error")) {
      this.again = false;
      await this.save();
    }
  }

  private flushOnExit(): void {
    if (this.state === "saved") return;
    this.writeLocal(false);
    void api.saveDraft(this.slug, this.latest, true);
  }

  private writeLocal(synced: boolean): void {
    try {
      const value: LocalDraft = { files: this.latest, synced, at: Date.now() };
      window.localStorage.setItem(this.key, JSON.stringify(value));
    } catch {
      /* storage full or disabled: the server draft still works */
    }
  }

  private setState(state: SaveState): void {
    if (state === this.state && state !== "error") return;
    this.state = state;
    this.onState(state);
  }
}

/** The server's text of each file: the learner's draft, else the starter. */
export function serverFiles(files: ModuleFile[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of files) out[f.path] = f.draft ?? f.starter;
  return out;
}

/** The files the editor opens with: the server's, except where an unsynced local copy differs (it wins). */
export function initialFiles(
  server: Record<string, string>,
  local: Record<string, string> | null,
): { files: Record<string, string>; restored: boolean } {
  const files = { ...server };
  let restored = false;
  if (local) {
    for (const path of Object.keys(files)) {
      const text = local[path];
      if (typeof text === "string" && text !== files[path]) {
        files[path] = text;
        restored = true;
      }
    }
  }
  return { files, restored };
}
