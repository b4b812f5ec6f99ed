/**
 * Shared page bootstrap: the stylesheet, the page data Django embedded, CSRF, toasts and a visible error state.
 * Every entry (dashboard, module, auth) calls `boot` first; it also mounts the notification bell and the study
 * heartbeat (`notifications.ts`) and wires print buttons (`[data-print]`, the certificate).
 */
import "./styles/main.css";
import "./styles/guide.css";
import { ApiError, DecodeError, decodePageContext, readPageData, setCsrfToken, type PageContext } from "./api";
import { h } from "./dom";
import { t } from "./i18n";
import { mountMilestones } from "./notifications";

export interface Page {
  data: Record<string, unknown>;
  context: PageContext;
}

export function boot(): Page {
  const data = readPageData();
  const context = decodePageContext(data);
  setCsrfToken(context.csrfToken);
  window.addEventListener("unhandledrejection", (ev) => toast(describeError(ev.reason), true));
  mountMilestones();
  for (const button of Array.from(document.querySelectorAll<HTMLElement>("[data-print]"))) {
    button.addEventListener("click", () => window.print());
  }
  wireNavToggle();
  return { data, context };
}

/** On phone widths the left navigation is a menu behind the top bar's button (CSS hides the button elsewhere). */
function wireNavToggle(): void {
  const button = document.querySelector<HTMLButtonElement>(".nav-toggle");
  const nav = document.getElementById("sidenav");
  if (!button || !nav) return;
  const set = (open: boolean): void => {
    button.setAttribute("aria-expanded", String(open));
    document.body.classList.toggle("nav-open", open);
  };
  button.addEventListener("click", () => set(button.getAttribute("aria-expanded") !== "true"));
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") set(false);
  });
}

let area: HTMLElement | null = null;

/** A short message in the corner; errors stay longer. */
export function toast(message: string, isError = false): void {
  if (!area) {
    area = h("div", { class: "toast-area", role: "status", "aria-live": "polite" });
    document.body.append(area);
  }
  const el = h("div", { class: `toast${isError ? " is-error" : ""}` }, message);
  area.append(el);
  window.setTimeout(() => el.remove(), isError ? 7000 : 3500);
}

export function describeError(err: unknown): string {
  if (err instanceof ApiError) return `${t("common.error")}: ${err.message}`;
  if (err instanceof DecodeError) return `${t("common.error")}: ${err.message}`;
  if (err instanceof Error) return `${t("common.error")}: ${err.message}`;
  return t("common.error");
}

/** Replace `root` with an error notice and a retry button. */
export function showFatal(root: HTMLElement, err: unknown, retry?: () => void): void {
  const button = retry ? h("button", { type: "button", class: "btn btn-sm" }, t("common.retry")) : null;
  button?.addEventListener("click", () => retry?.());
  root.replaceChildren(h("div", { class: "notice notice-error", role: "alert" }, describeError(err), button));
}
