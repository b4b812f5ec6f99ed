/**
 * Vite build for the lab's pages and the admin's authoring page. Django serves the output: `dist/` is a
 * static root, the manifest (`dist/.vite/manifest.json`) is read by the `{% vite_entry %}` template tag, so asset
 * names can carry content hashes. `base` must equal Django's STATIC_URL.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  base: "/static/",
  resolve: {
    // Monaco's package `exports` hide its CSS files; reach the ESM tree directly (see src/monaco.ts).
    alias: { "@monaco": here("./node_modules/monaco-editor/esm/vs") },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    manifest: true,
    sourcemap: false,
    chunkSizeWarningLimit: 6000,
    rolldownOptions: {
      input: {
        dashboard: here("./src/dashboard.ts"),
        module: here("./src/module.ts"),
        auth: here("./src/auth.ts"),
        authoring: here("./src/authoring.ts"),
        measurements: here("./src/measurements.ts"),
        analytics: here("./src/analytics.ts"),
        assemble: here("./src/assemble.ts"),
      },
    },
  },
  worker: { format: "es" },
});
