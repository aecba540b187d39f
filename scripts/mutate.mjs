#!/usr/bin/env node
/**
 * Mutation testing for fedveil: apply one classic mutation at a time to a
 * source file, run the tests that cover that file, and record whether the
 * tests fail (killed) or still pass (survived).
 *
 * Everything happens in a private copy of the repository (git archive of
 * HEAD, or of the working tree with --working-tree) under the OS temp dir;
 * the checkout this script is started from is never written to, except for
 * the JSON report at --out. The copy is removed at the end.
 *
 * Mutants are written to disk in the copy, so tests that run src/ in child
 * processes (tsx) see the mutant too.
 *
 * Operators (found with the TypeScript parser; types, imports and string
 * literals are never mutated):
 *   cmp      < <= > >= flipped at the boundary, === <-> !==
 *   arith    + <-> -, * <-> /
 *   logic    && <-> ||
 *   negate   condition of if / while / ?: wrapped in !( )
 *   unnot    leading ! removed
 *   const    numeric literal n -> n + 1 (1 -> 0), true <-> false
 *   drop     expression statement or throw statement removed
 *
 * Sampling: every candidate mutant of a file is listed in source order,
 * shuffled with a seeded PRNG (--seed) and the first --per-file are run;
 * --max caps the total, taken round-robin over the files. The defaults
 * (2 per file, at most 64) aim at a run of all four folders in about half
 * an hour on 2 cores: a measured run of 36 mutants took 16 minutes on this
 * project's 2-core machine under load (2.25 mutants a minute; a mutant costs
 * jest's start-up plus its related tests, which stop at the first failure).
 *
 *   node scripts/mutate.mjs [--folders secagg,crypto,dp,transport]
 *     [--files src/crypto/shamir.ts,...] [--per-file 2] [--max 64]
 *     [--seed 1] [--workers 2] [--working-tree] [--out test-artifacts/mutation.json]
 *     [--keep] [--list]
 *
 * Exit code 0 whatever the score (the score is a report, not a gate).
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------- options
function parseArgs(argv) {
  const o = { folders: ['secagg', 'crypto', 'dp', 'transport'], files: [], perFile: 2, max: 64, seed: 1, workers: 2, workingTree: false, out: 'test-artifacts/mutation.json', keep: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--folders') o.folders = next().split(',').filter(Boolean);
    else if (a === '--files') o.files = next().split(',').filter(Boolean);
    else if (a === '--per-file') o.perFile = Number(next());
    else if (a === '--max') o.max = Number(next());
    else if (a === '--seed') o.seed = Number(next());
    else if (a === '--workers') o.workers = Number(next());
    else if (a === '--out') o.out = next();
    else if (a === '--working-tree') o.workingTree = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--list') o.list = true;
    else if (a === '--help' || a === '-h') {
      console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]);
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  for (const k of ['perFile', 'max', 'seed', 'workers']) if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`--${k}: expected a positive integer`);
  return o;
}

// ---------------------------------------------------------------- PRNG
/** mulberry32: small seeded PRNG, so a run with the same seed picks the same mutants. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle(xs, rand) {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// ---------------------------------------------------------------- mutants
const K = ts.SyntaxKind;
const CMP = new Map([
  [K.LessThanToken, '<='], [K.LessThanEqualsToken, '<'], [K.GreaterThanToken, '>='], [K.GreaterThanEqualsToken, '>'],
  [K.EqualsEqualsEqualsToken, '!=='], [K.ExclamationEqualsEqualsToken, '==='], [K.EqualsEqualsToken, '!='], [K.ExclamationEqualsToken, '=='],
]);
const ARITH = new Map([[K.PlusToken, '-'], [K.MinusToken, '+'], [K.AsteriskToken, '/'], [K.SlashToken, '*']]);
const LOGIC = new Map([[K.AmpersandAmpersandToken, '||'], [K.BarBarToken, '&&']]);

function isTypeLevel(node) {
  for (let n = node; n; n = n.parent) {
    if (ts.isTypeNode(n) || ts.isInterfaceDeclaration(n) || ts.isTypeAliasDeclaration(n) || ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) return true;
    if (ts.isEnumDeclaration(n) && n.modifiers?.some((m) => m.kind === K.DeclareKeyword)) return true;
  }
  return false;
}

/** Every candidate mutant of `text`: { op, start, end, replacement, line, original }. */
export function findMutants(file, text) {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out = [];
  const add = (op, start, end, replacement) => {
    const original = text.slice(start, end);
    if (original === replacement) return;
    const line = sf.getLineAndCharacterOfPosition(start).line + 1;
    out.push({ op, start, end, replacement, line, original: original.length > 80 ? original.slice(0, 77) + '...' : original });
  };
  const visit = (node) => {
    if (isTypeLevel(node)) return;
    if (ts.isBinaryExpression(node)) {
      const k = node.operatorToken.kind;
      const tok = node.operatorToken;
      const s = tok.getStart(sf);
      const e = tok.getEnd();
      if (CMP.has(k)) add('cmp', s, e, CMP.get(k));
      else if (ARITH.has(k)) {
        // string concatenation is not arithmetic
        const strish = (x) => ts.isStringLiteral(x) || ts.isTemplateExpression(x) || ts.isNoSubstitutionTemplateLiteral(x);
        if (!(k === K.PlusToken && (strish(node.left) || strish(node.right)))) add('arith', s, e, ARITH.get(k));
      } else if (LOGIC.has(k)) add('logic', s, e, LOGIC.get(k));
    }
    const cond = ts.isIfStatement(node) || ts.isWhileStatement(node) || ts.isDoStatement(node) ? node.expression : ts.isConditionalExpression(node) ? node.condition : undefined;
    if (cond) add('negate', cond.getStart(sf), cond.getEnd(), `!(${cond.getText(sf)})`);
    if (ts.isPrefixUnaryExpression(node) && node.operator === K.ExclamationToken) add('unnot', node.getStart(sf), node.operand.getStart(sf), '');
    if (ts.isNumericLiteral(node) && !(ts.isPropertyAssignment(node.parent) && node.parent.name === node)) {
      const raw = node.getText(sf);
      if (!raw.endsWith('n')) {
        const v = Number(raw.replace(/_/g, ''));
        if (Number.isFinite(v)) add('const', node.getStart(sf), node.getEnd(), v === 1 ? '0' : `(${raw} + 1)`);
      }
    }
    if (ts.isBigIntLiteral(node)) {
      const raw = node.getText(sf);
      add('const', node.getStart(sf), node.getEnd(), raw === '1n' ? '0n' : `(${raw} + 1n)`);
    }
    if (node.kind === K.TrueKeyword) add('const', node.getStart(sf), node.getEnd(), 'false');
    if (node.kind === K.FalseKeyword) add('const', node.getStart(sf), node.getEnd(), 'true');
    if ((ts.isExpressionStatement(node) && !ts.isStringLiteral(node.expression)) || ts.isThrowStatement(node)) {
      // A statement that is the sole body of an if/else/loop is dropped to `{}`.
      add('drop', node.getStart(sf), node.getEnd(), ts.isBlock(node.parent) || ts.isSourceFile(node.parent) || ts.isCaseClause(node.parent) || ts.isDefaultClause(node.parent) ? ';' : '{}');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function applyMutant(text, m) {
  return text.slice(0, m.start) + m.replacement + text.slice(m.end);
}

// ---------------------------------------------------------------- test mapping
/**
 * Tests that cover a source file: the test folder of the same name
 * (src/secagg/x.ts -> test/secagg/), narrowed to the tests that import the
 * file directly or transitively (jest --findRelatedTests). Tests in other
 * folders that would also kill the mutant are not run (the score is a lower
 * bound).
 */
function testFolderOf(file) {
  const m = /^src\/([^/]+)\//.exec(file);
  return m ? `test/${m[1]}/` : 'test/';
}

// ---------------------------------------------------------------- running
function run(cmd, args, opts) {
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    let timedOut = false;
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }, opts.timeoutMs)
      : undefined;
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolvePromise({ code, out, timedOut });
    });
  });
}

const JEST = ['--experimental-vm-modules', 'node_modules/jest/bin/jest.js', '--ci'];

/** Test files of the file's folder that import it directly or transitively (jest's dependency graph). */
async function relatedTests(copy, file) {
  const r = await run(process.execPath, [...JEST, '--cacheDirectory', join(copy, '.jest-cache'), '--listTests', '--findRelatedTests', file], { cwd: copy, env: { ...process.env, FORCE_COLOR: '0' } });
  const folder = testFolderOf(file);
  return r.out.split('\n').map((l) => l.trim()).filter((l) => l.endsWith('.test.ts')).map((l) => relative(copy, l)).filter((l) => l.startsWith(folder)).sort();
}

async function runTests(copy, tests, workers, timeoutMs) {
  if (tests.length === 0) return { ms: 0, noTests: true, passed: false, out: '' };
  const t0 = Date.now();
  const args = [...JEST, '--silent', '--bail', `--maxWorkers=${workers}`, '--cacheDirectory', join(copy, '.jest-cache'), '--runTestsByPath', ...tests];
  const r = await run(process.execPath, args, { cwd: copy, timeoutMs, env: { ...process.env, FORCE_COLOR: '0' } });
  return { ...r, ms: Date.now() - t0, noTests: false, passed: r.code === 0 && !r.timedOut };
}

// ---------------------------------------------------------------- main
function makeCopy(workingTree) {
  const copy = mkdtempSync(join(tmpdir(), 'fedveil-mutate-'));
  if (workingTree) {
    for (const entry of readdirSync(ROOT)) {
      if (['node_modules', '.git', 'dist', 'coverage', 'test-artifacts'].includes(entry)) continue;
      cpSync(join(ROOT, entry), join(copy, entry), { recursive: true });
    }
  } else {
    const tar = execFileSync('git', ['-C', ROOT, 'archive', '--format=tar', 'HEAD'], { maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', copy], { input: tar });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
  return copy;
}

function listSources(root, folders, files) {
  if (files.length > 0) return files;
  const out = [];
  for (const f of folders) {
    const dir = join(root, 'src', f);
    if (!existsSync(dir)) throw new Error(`no such folder src/${f}`);
    const walk = (d) => {
      for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && e.name !== 'index.ts') out.push(relative(root, p));
      }
    };
    walk(dir);
  }
  return out;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const rand = prng(opts.seed);
  const started = new Date();
  const sources = listSources(ROOT, opts.folders, opts.files);
  // Plan: sample per file, then cap the total (spread over files round-robin).
  const plan = [];
  for (const file of sources) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const all = findMutants(file, text);
    plan.push({ file, total: all.length, picked: shuffle(all, rand).slice(0, opts.perFile) });
  }
  const queue = [];
  for (let round = 0; queue.length < opts.max; round++) {
    let any = false;
    for (const p of plan) {
      if (round < p.picked.length && queue.length < opts.max) {
        queue.push({ file: p.file, ...p.picked[round] });
        any = true;
      }
    }
    if (!any) break;
  }
  if (opts.list) {
    for (const m of queue) console.log(`${m.file}:${m.line} ${m.op} ${JSON.stringify(m.original)} -> ${JSON.stringify(m.replacement)}`);
    return;
  }

  const copy = makeCopy(opts.workingTree);
  console.log(`copy: ${copy} (${opts.workingTree ? 'working tree' : 'HEAD'}); ${queue.length} mutants over ${sources.length} files, seed ${opts.seed}`);
  const results = [];
  const baseline = new Map();
  const baselineOfTests = new Map();
  try {
    for (const [i, m] of queue.entries()) {
      const path = join(copy, m.file);
      // Baseline: the related tests must pass on the unmutated copy first;
      // their duration sets the mutant timeout (a hang counts as killed).
      if (!baseline.has(m.file)) {
        const tests = await relatedTests(copy, m.file);
        const key = tests.join(' ');
        // Files covered by the same tests share one baseline run.
        const b = baselineOfTests.get(key) ?? { ...(await runTests(copy, tests, opts.workers, 30 * 60_000)), tests };
        baselineOfTests.set(key, b);
        baseline.set(m.file, b);
        console.log(`baseline ${m.file}: ${b.noTests ? 'no related tests' : b.passed ? 'pass' : 'FAIL'} (${(b.ms / 1000).toFixed(1)} s; ${tests.join(' ')})`);
        if (!b.passed && !b.noTests) console.log(b.out.split('\n').filter((l) => /●|FAIL/.test(l)).slice(0, 10).join('\n'));
      }
      const b = baseline.get(m.file);
      const base = { file: m.file, line: m.line, op: m.op, original: m.original, replacement: m.replacement };
      if (b.noTests) {
        results.push({ ...base, status: 'no-coverage' });
        continue;
      }
      if (!b.passed) {
        results.push({ ...base, status: 'skipped-baseline-fails' });
        continue;
      }
      const original = readFileSync(path, 'utf8');
      writeFileSync(path, applyMutant(original, m));
      let r;
      try {
        r = await runTests(copy, b.tests, opts.workers, Math.max(60_000, 3 * b.ms + 30_000));
      } finally {
        writeFileSync(path, original);
      }
      const status = r.timedOut ? 'killed-timeout' : r.passed ? 'survived' : 'killed';
      results.push({ ...base, status, ms: r.ms });
      console.log(`[${i + 1}/${queue.length}] ${status.padEnd(14)} ${m.file}:${m.line} ${m.op} ${JSON.stringify(m.original)} -> ${JSON.stringify(m.replacement)}`);
    }
  } finally {
    if (!opts.keep) rmSync(copy, { recursive: true, force: true });
  }

  // Score per folder: killed / (killed + survived); untested and skipped are listed apart.
  const folders = {};
  for (const r of results) {
    const f = r.file.split('/').slice(0, 2).join('/');
    const s = (folders[f] ??= { killed: 0, survived: 0, noCoverage: 0, skipped: 0 });
    if (r.status.startsWith('killed')) s.killed++;
    else if (r.status === 'survived') s.survived++;
    else if (r.status === 'no-coverage') s.noCoverage++;
    else s.skipped++;
  }
  console.log('\nfolder            killed  survived  score');
  let k = 0;
  let sv = 0;
  for (const [f, s] of Object.entries(folders)) {
    s.score = s.killed + s.survived > 0 ? s.killed / (s.killed + s.survived) : null;
    k += s.killed;
    sv += s.survived;
    console.log(`${f.padEnd(16)}  ${String(s.killed).padStart(6)}  ${String(s.survived).padStart(8)}  ${s.score === null ? '-' : (100 * s.score).toFixed(1) + '%'}${s.noCoverage + s.skipped > 0 ? `  (${s.noCoverage} without related tests, ${s.skipped} skipped: baseline failing)` : ''}`);
  }
  const total = k + sv > 0 ? k / (k + sv) : null;
  console.log(`total             ${String(k).padStart(6)}  ${String(sv).padStart(8)}  ${total === null ? '-' : (100 * total).toFixed(1) + '%'}`);
  const survivors = results.filter((r) => r.status === 'survived');
  if (survivors.length > 0) {
    console.log('\nsurvivors:');
    for (const r of survivors) console.log(`  ${r.file}:${r.line} ${r.op} ${JSON.stringify(r.original)} -> ${JSON.stringify(r.replacement)}`);
  }
  const report = {
    started: started.toISOString(), finished: new Date().toISOString(), seed: opts.seed, perFile: opts.perFile, max: opts.max,
    source: opts.workingTree ? 'working-tree' : `HEAD ${execFileSync('git', ['-C', ROOT, 'rev-parse', 'HEAD']).toString().trim()}`,
    files: plan.map((p) => ({ file: p.file, candidates: p.total, sampled: p.picked.length })), folders, total, results,
  };
  const out = resolve(ROOT, opts.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nreport: ${relative(ROOT, out)}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
