/**
 * Login and sign-up pages: the forms are plain Django forms (they work without JS); this entry only loads the
 * stylesheet, focuses the first empty field and disables the submit button once pressed (no double posts).
 */
import { boot } from "./page";

boot();

const form = document.querySelector<HTMLFormElement>("form[data-auth-form]");
if (form) {
  const first = [...form.querySelectorAll<HTMLInputElement>("input:not([type=hidden])")].find((i) => !i.value);
  first?.focus();
  form.addEventListener("submit", () => {
    const button = form.querySelector<HTMLButtonElement>("button[type=submit]");
    if (button) window.setTimeout(() => (button.disabled = true), 0);
  });
}
