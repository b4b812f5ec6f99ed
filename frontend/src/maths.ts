/**
 * KaTeX adapter: typesets the maths in server-rendered HTML (the guides). Views pass a root element in; they never
 * see KaTeX.
 *
 * Design choices:
 * - The server marks maths (modules/handouts.py, pymdown-extensions' arithmatex): `<span class="arithmatex">\(…\)
 *   </span>` inline and `<div class="arithmatex">\[…\]</div>` display, the TeX as (sanitised) text. Nothing else on
 *   a page is read as maths.
 * - KaTeX is self-hosted: bundled by Vite, its fonts served from /static/ with the rest of the build (CSP
 *   `font-src 'self'`); no CDN. Script and stylesheet are a dynamic import, loaded only when a page has maths.
 *   KaTeX writes markup and inline styles only (the CSP allows style attributes), never script; `trust` stays off,
 *   so `\href`, `\includegraphics` and friends render as errors instead of links or images.
 * - Bad TeX never breaks the page: the element keeps its source, is marked `maths-error` and carries KaTeX's
 *   message as its tooltip.
 */
import type katexModule from "katex";

type Katex = typeof katexModule;

let katex: Promise<Katex> | null = null;

function loadKatex(): Promise<Katex> {
  katex ??= Promise.all([import("katex"), import("katex/dist/katex.min.css")]).then(([m]) => m.default);
  return katex;
}

/** The TeX of a marked element and whether it is display maths: `\(x\)` → inline `x`, `\[x\]` → display `x`. */
export function mathsSource(text: string): { tex: string; display: boolean } {
  const trimmed = text.trim();
  if (trimmed.startsWith("\\[") && trimmed.endsWith("\\]")) return { tex: trimmed.slice(2, -2), display: true };
  if (trimmed.startsWith("\\(") && trimmed.endsWith("\\)")) return { tex: trimmed.slice(2, -2), display: false };
  return { tex: trimmed, display: false };
}

/** Typeset every `.arithmatex` element under `root` (once each); returns how many were typeset without error. */
export async function renderMaths(root: HTMLElement): Promise<number> {
  const nodes = Array.from(root.querySelectorAll<HTMLElement>(".arithmatex:not([data-maths])"));
  if (nodes.length === 0) return 0;
  const k = await loadKatex();
  let typeset = 0;
  for (const el of nodes) {
    const source = el.textContent;
    const { tex, display } = mathsSource(source);
    try {
      k.render(tex, el, { displayMode: display, throwOnError: true, trust: false, strict: "ignore", output: "htmlAndMathml" });
      el.dataset.maths = "ok";
      typeset += 1;
    } catch (err) {
      el.textContent = source;
      el.classList.add("maths-error");
      el.title = err instanceof Error ? err.message : String(err);
      el.dataset.maths = "error";
    }
  }
  return typeset;
}
