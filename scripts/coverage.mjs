#!/usr/bin/env node
/**
 * Line coverage of src/ that counts the Node processes the tests spawn
 * (CLI runs through tsx, the esbuild-bundled `fedveil` of the multi-process
 * tests), not only the code jest loads in its own processes.
 *
 *   npm run coverage [-- <jest arguments, e.g. test paths>]
 *   node scripts/coverage.mjs --no-check   (report only, no thresholds)
 *
 * How:
 *  1. jest runs with its V8 coverage (in-process code; jest maps its own
 *     transformed modules back to src/) and with NODE_V8_COVERAGE set, so
 *     every Node process started below it writes raw V8 coverage too.
 *  2. Of the raw files, only scripts that carry a source map (tsx compiles
 *     with inline maps; the test bundle is built with an inline map when
 *     NODE_V8_COVERAGE is set) or are plain JavaScript under src/ are kept;
 *     jest's own processes evaluate src/ in vm modules without a map Node
 *     knows of, and their raw entries would be mis-mapped, so they are
 *     dropped (step 1 already counts them). c8 maps the rest back to src/.
 *  3. The two coverage maps are merged; reports go to coverage/ (text
 *     summary, per-folder table, html, json-summary) and the per-folder line
 *     coverage is checked against THRESHOLDS.
 *
 * Code that runs only inside a browser (src/browser in Chromium) is not
 * seen by either step.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import libCoverage from 'istanbul-lib-coverage';
import libReport from 'istanbul-lib-report';
import reports from 'istanbul-reports';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'coverage');

/**
 * Minimum line coverage (%) per folder of src/, set just under the figures
 * measured with the whole suite (docs/testing.md). Raise them when coverage
 * rises; a folder below its minimum fails `npm run coverage`.
 */
const THRESHOLDS = {
  'src': 99,
  'src/browser': 0,
  'src/cli': 79,
  'src/crypto': 98,
  'src/dp': 97,
  'src/dp/samplers': 99,
  'src/encode': 99,
  'src/fl': 95,
  'src/secagg': 97,
  'src/transport': 91,
  'src/util': 99,
};

const argv = process.argv.slice(2);
const check = !argv.includes('--no-check');
const jestArgs = argv.filter((a) => a !== '--no-check');

rmSync(OUT, { recursive: true, force: true });
const RAW = join(OUT, 'v8');
const CHILDREN_RAW = join(OUT, 'v8-children');
mkdirSync(RAW, { recursive: true });
mkdirSync(CHILDREN_RAW, { recursive: true });

// ---- 1. jest, with raw V8 coverage for every descendant process
const jest = spawnSync(process.execPath, [
  '--experimental-vm-modules', 'node_modules/jest/bin/jest.js',
  '--coverage', '--coverageProvider=v8', '--coverageReporters=json', `--coverageDirectory=${join(OUT, 'jest')}`,
  '--collectCoverageFrom=src/**/*.ts',
  ...jestArgs,
], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, NODE_V8_COVERAGE: RAW } });
const testsFailed = jest.status !== 0;
if (testsFailed) console.error(`\ncoverage: jest exited with ${jest.status ?? jest.signal}; figures below cover the tests that ran`);

// ---- 2. keep the raw entries of spawned processes that map back to src/
const srcUrl = pathToFileURL(join(ROOT, 'src') + sep).href;
const artifactsUrl = pathToFileURL(join(ROOT, 'test-artifacts') + sep).href;
let kept = 0;
for (const name of readdirSync(RAW)) {
  if (!name.endsWith('.json')) continue;
  const raw = JSON.parse(readFileSync(join(RAW, name), 'utf8'));
  const maps = raw['source-map-cache'] ?? {};
  const result = (raw.result ?? []).filter((s) => {
    if (!s.url.startsWith(srcUrl) && !s.url.startsWith(artifactsUrl)) return false;
    if (maps[s.url]) return true;
    return s.url.startsWith(srcUrl) && /\.(m?js)$/.test(s.url);
  });
  if (result.length === 0) continue;
  const sourceMapCache = Object.fromEntries(result.filter((s) => maps[s.url]).map((s) => [s.url, maps[s.url]]));
  writeFileSync(join(CHILDREN_RAW, name), JSON.stringify({ result, 'source-map-cache': sourceMapCache }));
  kept++;
}
rmSync(RAW, { recursive: true, force: true });

const c8 = spawnSync(process.execPath, [
  join(ROOT, 'node_modules', 'c8', 'bin', 'c8.js'), 'report',
  '--temp-directory', CHILDREN_RAW, '--report-dir', join(OUT, 'children'), '--reporter', 'json',
  '--exclude-after-remap', '--include', 'src/**', '--exclude', 'test/**', '--exclude', 'test-artifacts/**',
], { cwd: ROOT, stdio: 'inherit' });
if (c8.status !== 0) {
  console.error('coverage: c8 report failed');
  process.exit(1);
}

// ---- 3. merge, report, check
const map = libCoverage.createCoverageMap({});
for (const part of ['jest', 'children']) {
  const file = join(OUT, part, 'coverage-final.json');
  if (existsSync(file)) map.merge(JSON.parse(readFileSync(file, 'utf8')));
}
const context = libReport.createContext({ dir: OUT, coverageMap: map, defaultSummarizer: 'nested' });
for (const r of ['html', 'json-summary', 'text-summary']) reports.create(r).execute(context);

const folders = {};
for (const file of map.files()) {
  const rel = relative(ROOT, file).split(sep).join('/');
  if (!rel.startsWith('src/')) continue;
  const folder = rel.split('/').slice(0, -1).join('/');
  const lines = map.fileCoverageFor(file).toSummary().lines;
  const f = (folders[folder] ??= { covered: 0, total: 0 });
  f.covered += lines.covered;
  f.total += lines.total;
}
console.log(`\nline coverage per folder (${kept} raw files from spawned processes merged)`);
console.log('folder              lines      %   minimum');
let failed = false;
for (const folder of Object.keys(folders).sort()) {
  const f = folders[folder];
  const pct = f.total === 0 ? 100 : (100 * f.covered) / f.total;
  const min = THRESHOLDS[folder];
  const bad = check && min !== undefined && pct < min;
  failed ||= bad;
  console.log(`${folder.padEnd(18)} ${`${f.covered}/${f.total}`.padStart(11)} ${pct.toFixed(1).padStart(6)}   ${min === undefined ? '-' : String(min)}${bad ? '   BELOW MINIMUM' : ''}`);
}
writeFileSync(join(OUT, 'folders.json'), JSON.stringify(folders, null, 2) + '\n');
console.log(`\nreport: ${relative(ROOT, join(OUT, 'index.html'))}`);
process.exit(testsFailed || failed ? 1 : 0);
