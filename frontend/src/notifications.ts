/**
 * The notification bell in the top bar and the study-time heartbeat, on every page of a logged-in learner.
 *
 * Design choices:
 * - The base template renders an empty `#notifications` host only for a logged-in user; `mountMilestones` fills
 *   it (no host: nothing runs, so anonymous pages send no requests).
 * - The bell shows the unread count; it refreshes every 30 s while the page is visible, when the window regains
 *   focus, and when the page reports a change of standing (`STANDING_EVENT`, fired after a verdict).
 * - Opening the list marks nothing; following a notification marks it read, "Mark all read" marks the rest.
 * - Study time: a heartbeat once a minute while the page is visible and the learner touched it (key, pointer,
 *   scroll) within the last two minutes; the server credits the gap between beats, capped.
 */
import { api, type Notifications } from "./api";
import { ago, fill, h } from "./dom";
import { lang, t, type MessageKey } from "./i18n";

/** Fired on `document` when the learner's standing may have changed (a verdict arrived). */
export const STANDING_EVENT = "lab:standing";

const REFRESH_MS = 30_000;
const BEAT_MS = 60_000;
const ACTIVE_MS = 120_000;

class Bell {
  private readonly button = h("button", { type: "button", class: "notif-button", "aria-expanded": "false", "data-testid": "notification-bell" });
  private readonly count = h("span", { class: "notif-count", "data-testid": "notification-count", hidden: true });
  private readonly panel = h("div", { class: "notif-panel", "data-testid": "notification-panel", hidden: true });
  private state: Notifications = { unread: 0, items: [] };

  constructor(readonly host: HTMLElement) {
    this.button.append(bellIcon(), this.count);
    host.replaceChildren(this.button, this.panel);
    this.button.addEventListener("click", () => this.toggle());
    document.addEventListener("click", (ev) => {
      if (!host.contains(ev.target as Node)) this.toggle(false);
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") this.toggle(false);
    });
    this.paint();
  }

  async refresh(): Promise<void> {
    this.state = await api.notifications();
    this.paint();
  }

  private toggle(open = this.panel.hidden): void {
    this.panel.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
  }

  private paint(): void {
    const { unread, items } = this.state;
    this.count.textContent = unread > 99 ? "99+" : String(unread);
    this.count.hidden = unread === 0;
    this.host.dataset.unread = String(unread);
    this.button.setAttribute("aria-label", t("notifications.open", { n: unread }));
    const markAll = h(
      "button",
      { type: "button", class: "link-button", disabled: unread === 0, "data-testid": "notifications-read-all" },
      t("notifications.mark_all"),
    );
    markAll.addEventListener("click", () => {
      void api.readNotifications().then((n) => {
        this.state = n;
        this.paint();
      });
    });
    fill(
      this.panel,
      h("div", { class: "notif-head" }, h("strong", {}, t("notifications.title")), markAll),
      items.length === 0
        ? h("div", { class: "empty" }, t("notifications.empty"))
        : h(
            "ul",
            { class: "notif-list" },
            items.map((n) => {
              const link = h(
                "a",
                { href: n.url || "#", class: `notif-item${n.read ? "" : " is-unread"}`, "data-kind": n.kind, "data-testid": "notification" },
                h("span", { class: "notif-kind" }, t(`notifications.kind.${n.kind}` as MessageKey)),
                h("span", { class: "notif-title" }, n.title),
                h("span", { class: "faint notif-when" }, ago(n.createdAt, lang())),
              );
              if (!n.read) link.addEventListener("click", () => void api.readNotifications([n.id]));
              return h("li", {}, link);
            }),
          ),
    );
  }
}

function bellIcon(): SVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "notif-icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute(
    "d",
    "M12 3a6 6 0 0 0-6 6v3.6L4.3 15.4A1 1 0 0 0 5.2 17h13.6a1 1 0 0 0 .9-1.6L18 12.6V9a6 6 0 0 0-6-6Zm-2.2 15a2.3 2.3 0 0 0 4.4 0",
  );
  svg.append(path);
  return svg;
}

function startHeartbeat(): void {
  let lastActive = Date.now();
  const touched = (): void => {
    lastActive = Date.now();
  };
  for (const ev of ["keydown", "pointerdown", "pointermove", "scroll", "wheel"]) {
    window.addEventListener(ev, touched, { passive: true, capture: true });
  }
  const beat = (): void => {
    if (document.visibilityState === "visible" && Date.now() - lastActive < ACTIVE_MS) void api.heartbeat().catch(() => undefined);
  };
  beat();
  window.setInterval(beat, BEAT_MS);
}

/** Fill the bell and start the heartbeat when the page has a `#notifications` host (a logged-in user). */
export function mountMilestones(): void {
  const host = document.getElementById("notifications");
  if (!host) return;
  const bell = new Bell(host);
  const refresh = (): void => void bell.refresh().catch(() => undefined);
  refresh();
  window.setInterval(() => {
    if (document.visibilityState === "visible") refresh();
  }, REFRESH_MS);
  window.addEventListener("focus", refresh);
  document.addEventListener(STANDING_EVENT, refresh);
  startHeartbeat();
}
