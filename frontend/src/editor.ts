/**
 * Monaco adapter: the only module (with diff.ts) that touches the Monaco API.
 *
 * Design choices:
 * - One Monaco model per learner file (URI `file:///<path>`), one editor instance, a tab bar to switch models;
 *   view state (cursor, scroll) is kept per file.
 * - Lint runs on the server (`/api/tools/lint/`, ruff) debounced after typing; diagnostics become Monaco
 *   markers. What the untouched starter already has (imports its stubbed-out bodies used, nanochat's own
 *   style) is not the learner's doing: a diagnostic matching one of the starter's, by rule and line text, is
 *   dropped, so the starter reads as clean and only what the learner's edits bring shows. Formatting replaces the whole text through an edit operation, so Ctrl+Z undoes it.
 * - Completion is deliberately simple: Python keywords and builtins, the names used in the open files, and the
 *   torch/nanochat names the modules use. No language server in the browser.
 * - Only Monaco's base editor worker is bundled (no TypeScript/CSS/HTML/JSON workers).
 */
import EditorWorker from "@monaco/editor/editor.worker.js?worker";
import { api, type LintDiagnostic } from "./api";
import { debounce, h } from "./dom";
import { t } from "./i18n";
import * as monaco from "./monaco";

self.MonacoEnvironment = { getWorker: () => new EditorWorker() };

const PY_KEYWORDS = (
  "False None True and as assert async await break class continue def del elif else except finally for " +
  "from global if import in is lambda nonlocal not or pass raise return try while with yield match case"
).split(" ");
const PY_BUILTINS = (
  "abs all any bool bytes callable dict dir divmod enumerate filter float format getattr hasattr hash int " +
  "isinstance issubclass iter len list map max min next object open print range repr reversed round set " +
  "setattr slice sorted str sum super tuple type zip NotImplementedError ValueError TypeError KeyError"
).split(" ");
const LIBRARY_NAMES = (
  "torch torch.nn torch.nn.functional F nn.Module nn.Linear nn.Embedding nn.ModuleDict nn.ModuleList " +
  "torch.tensor torch.zeros torch.ones torch.arange torch.cat torch.stack torch.softmax torch.randn " +
  "torch.no_grad torch.float32 torch.bfloat16 torch.long F.cross_entropy F.scaled_dot_product_attention " +
  "F.rms_norm register_buffer state_dict load_state_dict forward view transpose contiguous unsqueeze " +
  "numpy np dataclass field GPTConfig GPT Tokenizer"
).split(" ");

let completionRegistered = false;

function registerCompletion(): void {
  if (completionRegistered) return;
  completionRegistered = true;
  monaco.languages.registerCompletionItemProvider("python", {
    triggerCharacters: ["."],
    provideCompletionItems(model, position) {
      const word = model.getWordUntilPosition(position);
      const range = new monaco.Range(position.lineNumber, word.startColumn, position.lineNumber, word.endColumn);
      const seen = new Set<string>();
      const items: monaco.languages.CompletionItem[] = [];
      const add = (label: string, kind: monaco.languages.CompletionItemKind): void => {
        if (seen.has(label) || label === word.word) return;
        seen.add(label);
        items.push({ label, kind, insertText: label, range });
      };
      const K = monaco.languages.CompletionItemKind;
      for (const k of PY_KEYWORDS) add(k, K.Keyword);
      for (const b of PY_BUILTINS) add(b, K.Function);
      for (const n of LIBRARY_NAMES) add(n, K.Module);
      for (const m of monaco.editor.getModels()) {
        if (m.getLanguageId() !== "python") continue;
        for (const w of m.getValue().match(/[A-Za-z_][A-Za-z0-9_]{2,}/g) ?? []) add(w, K.Variable);
      }
      items.push({
        label: "def",
        kind: K.Snippet,
        insertText: "def ${1:name}(${2:args}):\n\t${0:pass}",
        insertTextRules: monaco.languages.CompletionItemInsertTextRule.InsertAsSnippet,
        range,
        detail: "function",
      });
      return { suggestions: items };
    },
  });
}

export interface EditorOptions {
  onChange: (files: Record<string, string>) => void;
  onLint?: (path: string, diagnostics: LintDiagnostic[]) => void;
  readOnly?: boolean;
  /** The learner's preferences (settings page): font size in px, tab width, minimap on or off. */
  fontSize?: number;
  tabSize?: number;
  minimap?: boolean;
  /** The starter text of each file: its own diagnostics are not reported (see the design choices). */
  starters?: Record<string, string>;
}

/** A diagnostic's identity across edits: its rule and the text of its line (line numbers move). */
function lintKey(code: string | null, line: string): string {
  return `${code ?? ""}|${line.trim()}`;
}

export class LabEditor {
  private readonly editor: monaco.editor.IStandaloneCodeEditor;
  private readonly models = new Map<string, monaco.editor.ITextModel>();
  private readonly viewStates = new Map<string, monaco.editor.ICodeEditorViewState | null>();
  private readonly tabs: HTMLElement;
  private readonly lintAborts = new Map<string, AbortController>();
  private readonly lintSoon: (path: string) => void;
  /** Per file: how often each diagnostic key occurs in the starter (linted once, on first use). */
  private readonly starterLint = new Map<string, Promise<Map<string, number>>>();
  private active: string;

  constructor(
    host: HTMLElement,
    files: Record<string, string>,
    private readonly options: EditorOptions,
  ) {
    registerCompletion();
    const paths = Object.keys(files);
    if (paths.length === 0) throw new Error("LabEditor needs at least one file");
    this.active = paths[0] as string;
    this.tabs = h("div", { class: "editor-tabs", role: "tablist" });
    const surface = h("div", { class: "editor-surface", "data-testid": "editor" });
    host.replaceChildren(this.tabs, surface);
    for (const path of paths) this.models.set(path, this.createModel(path, files[path] ?? ""));
    this.editor = monaco.editor.create(surface, {
      model: this.models.get(this.active) ?? null,
      automaticLayout: true,
      fontSize: options.fontSize ?? 14,
      fontFamily: "'JetBrains Mono', 'SFMono-Regular', Menlo, Consolas, 'Noto Sans Mono CJK SC', monospace",
      minimap: { enabled: options.minimap ?? false },
      scrollBeyondLastLine: false,
      tabSize: options.tabSize ?? 4,
      insertSpaces: true,
      renderWhitespace: "selection",
      wordWrap: "bounded",
      wordWrapColumn: 110,
      wrappingIndent: "indent",
      readOnly: options.readOnly ?? false,
      padding: { top: 8, bottom: 8 },
      fixedOverflowWidgets: true,
      // Enter always breaks the line (Tab accepts a suggestion): word completions must not eat a newline
      acceptSuggestionOnEnter: "off",
    });
    this.lintSoon = (() => {
      const perPath = new Map<string, ReturnType<typeof debounce<[]>>>();
      return (path: string) => {
        let d = perPath.get(path);
        if (!d) {
          d = debounce(() => void this.lint(path), 700);
          perPath.set(path, d);
        }
        d();
      };
    })();
    this.renderTabs();
    for (const path of paths) void this.lint(path);
  }

  private createModel(path: string, text: string): monaco.editor.ITextModel {
    const uri = monaco.Uri.parse(`file:///${path}`);
    monaco.editor.getModel(uri)?.dispose();
    const model = monaco.editor.createModel(text, path.endsWith(".py") ? "python" : undefined, uri);
    model.updateOptions({ tabSize: this.options.tabSize ?? 4, insertSpaces: true });
    model.onDidChangeContent(() => {
      this.options.onChange(this.files());
      this.lintSoon(path);
    });
    return model;
  }

  private renderTabs(): void {
    this.tabs.replaceChildren(
      ...[...this.models.keys()].map((path) => {
        const selected = path === this.active;
        const tab = h(
          "button",
          { type: "button", class: `editor-tab${selected ? " is-active" : ""}`, role: "tab", "aria-selected": String(selected), "data-path": path },
          path,
        );
        tab.addEventListener("click", () => this.show(path));
        return tab;
      }),
    );
  }

  show(path: string): void {
    const model = this.models.get(path);
    if (!model || path === this.active) return;
    this.viewStates.set(this.active, this.editor.saveViewState());
    this.active = path;
    this.editor.setModel(model);
    const state = this.viewStates.get(path);
    if (state) this.editor.restoreViewState(state);
    this.editor.focus();
    this.renderTabs();
  }

  activePath(): string {
    return this.active;
  }

  files(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [path, model] of this.models) out[path] = model.getValue();
    return out;
  }

  /** Replace the text of some files (loading an attempt or resetting to starter); undoable. */
  setFiles(files: Record<string, string>): void {
    for (const [path, text] of Object.entries(files)) {
      const model = this.models.get(path);
      if (!model || model.getValue() === text) continue;
      model.pushEditOperations([], [{ range: model.getFullModelRange(), text }], () => null);
    }
  }

  /** Bind Ctrl/Cmd+Enter ("run") or Ctrl/Cmd+S ("save") inside the editor, where Monaco sees keys first. */
  addShortcut(kind: "run" | "save", handler: () => void): void {
    const key = kind === "run" ? monaco.KeyCode.Enter : monaco.KeyCode.KeyS;
    this.editor.addCommand(monaco.KeyMod.CtrlCmd | key, handler);
  }

  focus(): void {
    this.editor.focus();
  }

  async format(): Promise<void> {
    const path = this.active;
    const model = this.models.get(path);
    if (!model) return;
    const formatted = await api.format(path, model.getValue());
    if (formatted !== model.getValue()) {
      this.editor.pushUndoStop();
      this.editor.executeEdits("format", [{ range: model.getFullModelRange(), text: formatted }]);
      this.editor.pushUndoStop();
    }
  }

  async lint(path: string): Promise<void> {
    const model = this.models.get(path);
    if (!model || !path.endsWith(".py")) return;
    this.lintAborts.get(path)?.abort();
    const abort = new AbortController();
    this.lintAborts.set(path, abort);
    let diagnostics: LintDiagnostic[];
    let known: Map<string, number>;
    try {
      [diagnostics, known] = await Promise.all([api.lint(path, model.getValue(), abort.signal), this.starterDiagnostics(path)]);
    } catch {
      return; // lint is advisory; a failed or aborted call leaves the old markers
    }
    if (model.isDisposed()) return;
    const left = new Map(known);
    diagnostics = diagnostics.filter((d) => {
      const key = lintKey(d.code, d.line >= 1 && d.line <= model.getLineCount() ? model.getLineContent(d.line) : "");
      const n = left.get(key) ?? 0;
      if (n === 0) return true;
      left.set(key, n - 1);
      return false;
    });
    monaco.editor.setModelMarkers(
      model,
      "ruff",
      diagnostics.map((d) => ({
        startLineNumber: d.line,
        startColumn: d.column,
        endLineNumber: d.endLine,
        endColumn: Math.max(d.endColumn, d.column + 1),
        message: d.code ? `${d.code} ${d.message}` : d.message,
        severity: d.severity === "error" ? monaco.MarkerSeverity.Error : monaco.MarkerSeverity.Warning,
        source: "ruff",
      })),
    );
    this.options.onLint?.(path, diagnostics);
  }

  /** The starter's own diagnostics of `path` as key counts (empty without a starter or when lint fails). */
  private starterDiagnostics(path: string): Promise<Map<string, number>> {
    let known = this.starterLint.get(path);
    if (!known) {
      const text = this.options.starters?.[path];
      const lines = text?.split("\n") ?? [];
      known =
        text === undefined
          ? Promise.resolve(new Map<string, number>())
          : api.lint(path, text).then(
              (found) => {
                const counts = new Map<string, number>();
                for (const d of found) {
                  const key = lintKey(d.code, lines[d.line - 1] ?? "");
                  counts.set(key, (counts.get(key) ?? 0) + 1);
                }
                return counts;
              },
              () => new Map<string, number>(),
            );
      this.starterLint.set(path, known);
    }
    return known;
  }

  dispose(): void {
    this.editor.dispose();
    for (const m of this.models.values()) m.dispose();
  }
}

/**
 * Highlight the guide's Python code blocks (`<pre><code class="language-python">` from fenced Markdown) with
 * Monaco's tokenizer, so guide snippets look like the editor. Monaco escapes the text it colours.
 */
export async function colorizeCodeBlocks(root: HTMLElement): Promise<void> {
  for (const code of Array.from(root.querySelectorAll<HTMLElement>("pre > code"))) {
    const lang = /language-(\w+)/.exec(code.className)?.[1];
    if (lang !== "python" && lang !== "py") continue;
    const html = await monaco.editor.colorize(code.textContent, "python", { tabSize: 4 });
    code.innerHTML = html;
    code.parentElement?.classList.add("is-colorized");
  }
}

export function lintSummary(count: number): string {
  return count === 0 ? t("editor.lint_clean") : t("editor.lint_issues", { n: count });
}
