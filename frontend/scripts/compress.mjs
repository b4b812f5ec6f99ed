/**
 * Precompress the build's text assets next to themselves (`x.js` → `x.js.br`, `x.js.gz`), once per build, so the
 * server (labplatform/static.py) sends the smallest encoding the browser accepts without compressing per request.
 * Brotli at quality 11 and gzip at level 9: slow once here, free at every request. A variant that does not save at
 * least 5 % is not written (fonts such as woff2 are compressed already and are not even tried).
 * Usage: node scripts/compress.mjs [dir]   (default dist/)
 */
import { readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const COMPRESSIBLE = /\.(js|mjs|css|html|json|svg|txt|map|ttf|otf|eot|wasm|xml)$/;
const MIN_BYTES = 1024;

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

const root = process.argv[2] ?? "dist";
let before = 0;
let afterBr = 0;
let files = 0;
for (const path of [...walk(root)]) {
  if (path.endsWith(".br") || path.endsWith(".gz")) {
    unlinkSync(path); // a stale variant of an earlier build
    continue;
  }
  const raw = readFileSync(path);
  if (!COMPRESSIBLE.test(path) || raw.length < MIN_BYTES) continue;
  const variants = {
    br: brotliCompressSync(raw, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
      },
    }),
    gz: gzipSync(raw, { level: 9 }),
  };
  files += 1;
  before += raw.length;
  afterBr += Math.min(raw.length, variants.br.length);
  for (const [ext, data] of Object.entries(variants)) {
    if (data.length <= raw.length * 0.95) writeFileSync(`${path}.${ext}`, data);
  }
}
const mb = (n) => (n / 1048576).toFixed(1);
console.log(`compress: ${files} files, ${mb(before)} MiB -> ${mb(afterBr)} MiB with brotli`);
