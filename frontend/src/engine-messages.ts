/**
 * The grading engine's own sentences (timeouts, "Not run", "3 of 5 tests passed." ...) in the page's language.
 *
 * The engine stores its messages in English; the table behind them (grading/engine/messages.json, generated into
 * src/gen/) holds each one in English and Chinese. On a Chinese page every English engine sentence found in a
 * message is replaced by its Chinese, placeholders carried over; everything else (a learner's traceback, a test's
 * own assertion text) is shown as written. The server does the same in grading/engine/messages.py.
 */
import { ENGINE_MESSAGES } from "./gen/engine-messages";
import { lang } from "./i18n";

const PLACEHOLDER = /\{(\w+)(?::[^}]*)?\}/g;

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

let compiled: Array<[RegExp, string]> | null = null;

/** (English pattern, Chinese template) per message, longest English first so a longer sentence wins. */
function patterns(): Array<[RegExp, string]> {
  if (compiled) return compiled;
  const entries = Object.values(ENGINE_MESSAGES.messages).sort((a, b) => b.en.length - a.en.length);
  compiled = entries.map(({ en, zh }) => {
    let source = "";
    let pos = 0;
    for (const match of en.matchAll(PLACEHOLDER)) {
      const name = match[1] as string;
      const end = match.index + match[0].length;
      const free = end === en.length ? "[^\\n]*" : "[^\\n]*?";
      source += escape(en.slice(pos, match.index)) + `(?<${name}>${ENGINE_MESSAGES.values[name] ?? free})`;
      pos = end;
    }
    source += escape(en.slice(pos));
    return [new RegExp(source, "g"), zh];
  });
  return compiled;
}

/** `text` with each engine sentence in it shown in `language` (the page's, by default). */
export function localizeEngine(text: string, language: string = lang()): string {
  if (!text || !language.startsWith("zh")) return text;
  let out = text;
  for (const [pattern, zh] of patterns()) {
    out = out.replace(pattern, (...args: unknown[]) => {
      const groups = args[args.length - 1] as Record<string, string>;
      return zh.replace(PLACEHOLDER, (_whole, name: string) => groups[name] ?? "");
    });
  }
  return out;
}
