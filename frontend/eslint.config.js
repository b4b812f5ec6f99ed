/**
 * ESLint for the frontend (flat config). TypeScript sources are linted with type information (typescript-eslint's
 * project service reads tsconfig.json): the rules that need types are the ones that catch real bugs here —
 * floating or misused promises (event handlers that start requests), unsafe `any` flowing out of JSON, conditions
 * that are always true, switches that miss an event type (typescript-eslint's strict set, two stylistic rules off). Formatting is Prettier's job (`npm run lint` runs `prettier --check` too), so no
 * stylistic rule is enabled here.
 */
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["dist/", "node_modules/", "src/gen/"] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // numbers in template strings are how this code builds labels and ids
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      // `() => void fn()` and `(x) => list.push(x)` shorthands read well; the rule only forbids a style
      "@typescript-eslint/no-confusing-void-expression": "off",
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
      "@typescript-eslint/no-unnecessary-type-assertion": "error",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      eqeqeq: ["error", "smart"],
      "no-restricted-syntax": ["error", { selector: "CallExpression[callee.name='eval']", message: "no eval: the CSP forbids it" }],
      "max-lines-per-function": ["error", { max: 60, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    // a test file's describe block is a list of cases, not a function to keep short
    files: ["tests/**"],
    rules: { "max-lines-per-function": "off" },
  },
  {
    files: ["*.js", "*.config.ts", "scripts/**"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { console: "readonly", process: "readonly" } },
  },
);
