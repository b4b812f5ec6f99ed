/**
 * The module page's Discussion tab: questions about the module, the learner's mentor-review requests, and (for
 * instructors) the mentor queue of open reviews across all modules.
 *
 * Design choices:
 * - One view owns the panel and shows either the thread list or one thread. A thread is addressed by the URL hash
 *   `#thread-<id>`, so the queue's links (and any shared link) land on the thread itself.
 * - Post bodies are the only HTML this view inserts, and only because the server rendered their Markdown and
 *   sanitised it with nh3 (`bodyHtml`); titles, names and everything else are set as text.
 * - Review threads are indexed by attempt (`reviewFor`) so the attempts tab can offer "Request mentor review"
 *   or a link to the review already requested, without a request per attempt.
 */
import { api, ApiError, type ThreadDetail, type ThreadPost, type ThreadSummary } from "./api";
import { ago, fill, h } from "./dom";
import { lang, t, type MessageKey } from "./i18n";
import { describeError, toast } from "./page";

const BODY_MAX = 10_000;
const HASH = /^#thread-(\d+)$/;

export interface DiscussionOptions {
  slug: string;
  isInstructor: boolean;
  /** The module's threads changed (the attempts tab re-renders its review actions, the tab its count). */
  onChange: () => void;
  /** Bring the Discussion tab to the front. */
  show: () => void;
}

export class DiscussionView {
  private threads: ThreadSummary[] = [];
  private queue: ThreadSummary[] = [];
  private currentThread: string | null = null;

  constructor(
    private readonly panel: HTMLElement,
    private readonly opts: DiscussionOptions,
  ) {
    window.addEventListener("hashchange", () => void this.followHash());
  }

  /** The review thread of attempt `submissionId`, if one was requested. */
  reviewFor(submissionId: string): ThreadSummary | undefined {
    return this.threads.find((thread) => thread.kind === "review" && thread.submission === submissionId);
  }

  openCount(): number {
    return this.threads.filter((thread) => thread.status === "open").length;
  }

  /** Fetch the lists, show them, then the thread the URL names (if any). */
  async load(): Promise<void> {
    await this.refresh();
    this.renderList();
    await this.followHash();
  }

  async open(id: string): Promise<void> {
    this.opts.show();
    let detail: ThreadDetail;
    try {
      detail = await api.thread(id);
    } catch (err) {
      toast(describeError(err), true);
      this.renderList();
      return;
    }
    if (window.location.hash !== `#thread-${id}`) window.history.replaceState(null, "", `#thread-${id}`);
    this.currentThread = id;
    this.renderThread(detail);
  }

  /** Open a review thread for one of the learner's attempts, then show it. */
  async requestReview(submissionId: string, attemptNumber: number, body: string): Promise<void> {
    const thread = await api.createThread(this.opts.slug, {
      kind: "review",
      title: t("review.title", { n: attemptNumber }),
      body,
      submission: Number(submissionId),
    });
    await this.refresh();
    toast(t("review.sent"));
    await this.open(thread.id);
  }

  private async refresh(): Promise<void> {
    this.threads = await api.threads(this.opts.slug);
    this.queue = this.opts.isInstructor ? await api.reviewQueue() : [];
    this.opts.onChange();
  }

  private async followHash(): Promise<void> {
    const m = HASH.exec(window.location.hash);
    if (m?.[1]) await this.open(m[1]);
  }

  private closeThread(): void {
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    this.refresh()
      .then(() => this.renderList())
      .catch((err: unknown) => toast(describeError(err), true));
    this.renderList();
  }

  // ---------------------------------------------------------------------------------------------- list

  private renderList(): void {
    const questions = this.threads.filter((thread) => thread.kind === "question");
    const reviews = this.threads.filter((thread) => thread.kind === "review");
    fill(
      this.panel,
      this.opts.isInstructor ? this.queueCard() : null,
      h("p", { class: "muted" }, t("discussion.intro")),
      h("h3", { class: "section-title" }, t("discussion.questions")),
      questions.length
        ? h(
            "ul",
            { class: "list thread-list", "data-testid": "thread-list" },
            questions.map((q) => this.item(q)),
          )
        : h("div", { class: "empty" }, t("discussion.none")),
      reviews.length
        ? [
            h("h3", { class: "section-title" }, t(this.opts.isInstructor ? "discussion.module_reviews" : "discussion.my_reviews")),
            h(
              "ul",
              { class: "list thread-list", "data-testid": "review-list" },
              reviews.map((r) => this.item(r)),
            ),
          ]
        : null,
      this.questionForm(),
    );
  }

  private queueCard(): HTMLElement {
    return h(
      "section",
      { class: "mentor-queue", "data-testid": "review-queue" },
      h("h3", { class: "section-title" }, t("discussion.queue")),
      this.queue.length
        ? h(
            "ul",
            { class: "list thread-list" },
            this.queue.map((r) =>
              h(
                "li",
                { class: "thread-item", "data-thread": r.id, "data-testid": "queue-item" },
                h("a", { href: r.url }, r.title),
                h("span", { class: "faint" }, `${r.moduleTitle} · ${t("discussion.by", { author: r.author })} · ${ago(r.createdAt, lang())}`),
                r.mentorAnswered ? h("span", { class: "badge badge-pass" }, t("discussion.answered")) : null,
              ),
            ),
          )
        : h("div", { class: "empty" }, t("discussion.queue_empty")),
    );
  }

  private item(thread: ThreadSummary): HTMLElement {
    const link = h("a", { href: `#thread-${thread.id}`, class: "thread-title" }, thread.title);
    link.addEventListener("click", (ev) => {
      ev.preventDefault();
      void this.open(thread.id);
    });
    return h(
      "li",
      { class: "thread-item", "data-thread": thread.id, "data-status": thread.status, "data-testid": "thread-item" },
      link,
      statusBadge(thread.status),
      thread.mentorAnswered ? h("span", { class: "badge badge-pass" }, t("discussion.answered")) : null,
      h(
        "span",
        { class: "faint" },
        `${t("discussion.by", { author: thread.author })} · ${t("discussion.posts", { n: thread.postCount })} · ${ago(thread.updatedAt, lang())}`,
      ),
    );
  }

  private questionForm(): HTMLElement {
    const title = h("input", { type: "text", name: "title", maxlength: 200, placeholder: t("discussion.title"), "data-testid": "question-title" });
    const body = h("textarea", { name: "body", rows: 4, maxlength: BODY_MAX, placeholder: t("discussion.body"), "data-testid": "question-body" });
    const submit = h("button", { type: "submit", class: "btn btn-primary btn-sm", "data-testid": "question-submit" }, t("discussion.post"));
    const status = h("span", { class: "faint", role: "status" });
    const form = h(
      "form",
      { class: "thread-form", "data-testid": "question-form" },
      h("h3", { class: "section-title" }, t("discussion.new")),
      title,
      body,
      h("div", {}, submit, " ", status),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const problem = bodyProblem(body.value) ?? (title.value.trim() ? null : t("discussion.required"));
      if (problem) {
        status.textContent = problem;
        return;
      }
      submit.disabled = true;
      api
        .createThread(this.opts.slug, { kind: "question", title: title.value.trim(), body: body.value })
        .then(async (thread) => {
          await this.refresh();
          await this.open(thread.id);
        })
        .catch((err: unknown) => {
          status.textContent = describeError(err);
          submit.disabled = false;
        });
    });
    return form;
  }

  // ---------------------------------------------------------------------------------------------- one thread

  private renderThread(thread: ThreadDetail): void {
    const back = h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "thread-back" }, t("discussion.back"));
    back.addEventListener("click", () => this.closeThread());
    const resolve =
      thread.canResolve && thread.status === "open"
        ? h("button", { type: "button", class: "btn btn-sm", "data-testid": "thread-resolve" }, t("discussion.resolve"))
        : null;
    resolve?.addEventListener("click", () => {
      resolve.disabled = true;
      api
        .resolveThread(thread.id)
        .then(async (updated) => {
          this.renderThread(updated);
          await this.refresh();
        })
        .catch((err: unknown) => {
          toast(describeError(err), true);
          resolve.disabled = false;
        });
    });
    const moderation = this.threadTools(thread);
    fill(
      this.panel,
      h(
        "article",
        {
          class: "thread-view",
          "data-testid": "thread-view",
          "data-thread": thread.id,
          "data-kind": thread.kind,
          "data-status": thread.status,
          "data-pinned": String(thread.pinned),
          "data-locked": String(thread.locked),
        },
        h("div", { class: "thread-head" }, back, h("span", { class: "spacer" }), ...moderation, resolve),
        h(
          "h2",
          { class: "thread-heading" },
          h("span", { class: "badge" }, t(`discussion.kind_${thread.kind}` as MessageKey)),
          " ",
          thread.title,
          " ",
          statusBadge(thread.status),
          thread.pinned ? h("span", { class: "badge", "data-testid": "pinned-badge" }, t("moderation.pinned")) : null,
          thread.locked ? h("span", { class: "badge badge-fail", "data-testid": "locked-badge" }, t("moderation.locked")) : null,
        ),
        h(
          "ol",
          { class: "list posts" },
          thread.posts.map((post) => this.postItem(thread, post)),
        ),
        thread.canReply ? this.replyForm(thread) : null,
      ),
    );
  }

  /** The mentors' link to a review's page (attempt against the reference, verdict), pin and lock buttons. */
  private threadTools(thread: ThreadDetail): HTMLElement[] {
    const review = thread.reviewUrl
      ? [h("a", { href: thread.reviewUrl, class: "btn btn-ghost btn-sm", "data-testid": "thread-review-page" }, t("moderation.review_page"))]
      : [];
    return thread.canModerate
      ? [
          ...review,
          this.act(thread.id, t(thread.pinned ? "moderation.unpin" : "moderation.pin"), "thread-pin", () =>
            api.moderateThread(thread.id, thread.pinned ? "unpin" : "pin"),
          ),
          this.act(thread.id, t(thread.locked ? "moderation.unlock" : "moderation.lock"), "thread-lock", () =>
            api.moderateThread(thread.id, thread.locked ? "unlock" : "lock"),
          ),
        ]
      : [];
  }

  /** One post: its author, badges, the author's edit button and the mentors' moderation buttons. */
  private postItem(thread: ThreadDetail, post: ThreadPost): HTMLElement {
    const body = h("div", { class: "post-body guide" });
    // Rendered from Markdown and sanitised by nh3 on the server (ThreadPost.bodyHtml): safe to insert.
    body.innerHTML = post.bodyHtml;
    const accepted = thread.acceptedPost === post.id;
    const tools = [
      post.canEdit ? this.editButton(post, body) : null,
      thread.canModerate
        ? this.act(thread.id, t(post.hidden ? "moderation.unhide" : "moderation.hide"), "post-hide", () => api.hidePost(post.id, !post.hidden))
        : null,
      thread.canModerate && !post.hidden
        ? this.act(thread.id, t(accepted ? "moderation.unaccept" : "moderation.accept"), "post-accept", () =>
            api.moderateThread(thread.id, accepted ? "unaccept" : "accept", post.id),
          )
        : null,
    ];
    return h(
      "li",
      {
        class: `post${post.isMentor ? " post-mentor" : ""}${post.hidden ? " post-hidden" : ""}`,
        "data-testid": "post",
        "data-post": post.id,
        "data-mentor": String(post.isMentor),
        "data-hidden": String(post.hidden),
        "data-accepted": String(accepted),
      },
      h(
        "div",
        { class: "post-meta" },
        h("strong", {}, post.author),
        post.isMentor ? h("span", { class: "badge badge-unlocked", "data-testid": "mentor-badge" }, t("discussion.mentor")) : null,
        accepted ? h("span", { class: "badge badge-pass", "data-testid": "accepted-badge" }, t("moderation.accepted")) : null,
        post.hidden ? h("span", { class: "badge badge-fail", "data-testid": "hidden-badge" }, t("moderation.hidden")) : null,
        h("span", { class: "faint" }, ago(post.createdAt, lang())),
        h("span", { class: "spacer" }),
        ...tools,
      ),
      body,
    );
  }

  /** A button that runs one moderation request, then shows the thread again (or says what went wrong). */
  private act(threadId: string, label: string, testid: string, run: () => Promise<unknown>): HTMLButtonElement {
    const button = h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": testid }, label);
    button.addEventListener("click", () => {
      button.disabled = true;
      run()
        .then(() => this.open(threadId))
        .catch((err: unknown) => {
          toast(describeError(err), true);
          button.disabled = false;
        });
    });
    return button;
  }

  /** "Edit": swaps the post's body for a form with its text, which sends the new text. */
  private editButton(post: ThreadPost, body: HTMLElement): HTMLButtonElement {
    const button = h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "post-edit" }, t("moderation.edit"));
    button.addEventListener("click", () => {
      const { form, body: text } = postForm({
        name: "edit",
        placeholder: t("discussion.reply_placeholder"),
        label: t("moderation.save"),
        send: async (value) => {
          await api.editPost(post.id, value);
          await this.open(this.currentThread ?? "");
        },
      });
      text.value = post.source ?? body.textContent;
      body.replaceWith(form);
      button.disabled = true;
    });
    return button;
  }

  private replyForm(thread: ThreadDetail): HTMLElement {
    return postForm({
      name: "reply",
      placeholder: t("discussion.reply_placeholder"),
      label: t("discussion.reply"),
      send: async (body) => {
        await api.reply(thread.id, body);
        await this.open(thread.id);
        await this.refresh();
      },
    }).form;
  }
}

export interface PostFormOptions {
  /** `data-testid` prefix: `<name>-form`, `<name>-body`, `<name>-submit`. */
  name: string;
  placeholder: string;
  label: string;
  rows?: number;
  hidden?: boolean;
  /** Posts the body; a rejection is shown next to the button and re-enables it. */
  send: (body: string) => Promise<unknown>;
}

/** One Markdown post form (a reply, a review request): checks the body, sends it once, shows what went wrong. */
export function postForm(o: PostFormOptions): { form: HTMLFormElement; body: HTMLTextAreaElement } {
  const body = h("textarea", { name: "body", rows: o.rows ?? 4, maxlength: BODY_MAX, placeholder: o.placeholder, "data-testid": `${o.name}-body` });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-sm", "data-testid": `${o.name}-submit` }, o.label);
  const status = h("span", { class: "faint", role: "status" });
  const form = h(
    "form",
    { class: "thread-form", hidden: o.hidden ?? false, "data-testid": `${o.name}-form` },
    body,
    h("div", {}, submit, " ", status),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const problem = bodyProblem(body.value);
    if (problem) {
      status.textContent = problem;
      return;
    }
    submit.disabled = true;
    o.send(body.value).catch((err: unknown) => {
      status.textContent = err instanceof ApiError ? err.message : describeError(err);
      submit.disabled = false;
    });
  });
  return { form, body };
}

function statusBadge(status: "open" | "resolved"): HTMLElement {
  return h(
    "span",
    { class: `badge ${status === "resolved" ? "badge-pass" : "badge-queued"}`, "data-testid": "thread-status" },
    t(status === "resolved" ? "discussion.resolved" : "discussion.open"),
  );
}

/** What is wrong with a message before it is sent (the server checks the same). */
export function bodyProblem(text: string): string | null {
  if (!text.trim()) return t("discussion.required");
  if (text.length > BODY_MAX) return t("discussion.too_long", { n: BODY_MAX });
  return null;
}
