/** Vitest: unit tests in tests/*.test.ts, in happy-dom (a DOM without a browser), deterministic (fake timers). */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "happy-dom",
    environmentOptions: { happyDOM: { url: "http://lab.test/modules/01-onboarding/" } },
    include: ["tests/**/*.test.ts"],
    restoreMocks: true,
    unstubGlobals: true,
  },
});
