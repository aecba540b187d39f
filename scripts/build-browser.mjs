#!/usr/bin/env node
/**
 * Bundle the browser client (src/browser/client.ts) into ONE ES module,
 * dist/browser/fedveil-client.js, with esbuild, and copy the demo page to
 * dist/browser/index.html (served by `fedveil serve --demo` on /demo/).
 *
 * The bundle must not import any Node built-in: a plugin fails the build
 * on any `node:` import that survives type erasure (the crypto layer reaches
 * node:crypto only through `process.getBuiltinModule` at run time, which is
 * absent in browsers, so it falls back to WebCrypto / noble there).
 *
 * Usage: node scripts/build-browser.mjs [--outdir DIR]
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argi = process.argv.indexOf('--outdir');
const outdir = argi > 0 ? path.resolve(process.argv[argi + 1]) : path.join(root, 'dist', 'browser');
mkdirSync(outdir, { recursive: true });

const noNodeBuiltins = {
  name: 'no-node-builtins',
  setup(b) {
    // Type-only imports never reach here; a real one is a bug in a browser-facing module.
    b.onResolve({ filter: /^node:/ }, (args) => ({ errors: [{ text: `browser bundle: ${args.path} imported by ${path.relative(root, args.importer)}` }] }));
  },
};

const t0 = Date.now();
await build({
  entryPoints: [path.join(root, 'src', 'browser', 'client.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  // Error classes keep their names (PolicyViolation, ThresholdNotMet, ...) for the page's own handling.
  keepNames: true,
  sourcemap: false,
  outfile: path.join(outdir, 'fedveil-client.js'),
  plugins: [noNodeBuiltins],
  logLevel: 'warning',
  legalComments: 'none',
});
copyFileSync(path.join(root, 'src', 'browser', 'demo.html'), path.join(outdir, 'index.html'));
const size = statSync(path.join(outdir, 'fedveil-client.js')).size;
process.stderr.write(`build-browser: ${path.relative(root, outdir)}/fedveil-client.js ${(size / 1024).toFixed(0)} KiB in ${Date.now() - t0} ms\n`);
