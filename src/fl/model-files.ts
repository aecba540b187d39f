/**
 * tfjs models as files in Node, without tfjs-node: read a `model.json`
 * (tfjs layers format) with its weight files, and write a model the same
 * way, atomically. Node built-ins are reached through
 * `process.getBuiltinModule` at run time, so importing this module never
 * breaks the browser bundle (where it is never called).
 */
import type * as tf from '@tensorflow/tfjs';
import { InvalidArgument } from '../errors.js';

type Fs = typeof import('node:fs/promises');
type Path = typeof import('node:path');

function builtin<T>(id: string): T {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = typeof proc?.getBuiltinModule === 'function' ? proc.getBuiltinModule(id) : undefined;
  if (!mod) throw new InvalidArgument(`model files: ${id} is not available here (Node >= 20.16 is needed to read and write model files)`);
  return mod as T;
}

interface ModelJson {
  modelTopology: unknown;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

/** Read `model.json` (a file, or a directory holding one) and its weight files into tfjs model artifacts. */
export async function loadModelFiles(location: string): Promise<tf.io.ModelArtifacts> {
  const fs = builtin<Fs>('node:fs/promises');
  const path = builtin<Path>('node:path');
  let file = location.replace(/^file:\/\//, '');
  try {
    if ((await fs.stat(file)).isDirectory()) file = path.join(file, 'model.json');
  } catch (err) {
    throw new InvalidArgument(`model ${location}: cannot read it (${err instanceof Error ? err.message : String(err)})`);
  }
  let json: ModelJson;
  try {
    json = JSON.parse(await fs.readFile(file, 'utf8')) as ModelJson;
  } catch (err) {
    throw new InvalidArgument(`model ${file}: not a tfjs model.json (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest)) throw new InvalidArgument(`model ${file}: expected a tfjs layers-model model.json (modelTopology and weightsManifest)`);
  const dir = path.dirname(file);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      if (p.includes('..') || path.isAbsolute(p)) throw new InvalidArgument(`model ${file}: weight path ${p} leaves the model's directory`);
      parts.push(new Uint8Array(await fs.readFile(path.join(dir, p))));
    }
  }
  const total = parts.reduce((a, b) => a + b.length, 0);
  const data = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    data.set(p, off);
    off += p.length;
  }
  return { modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'], weightSpecs: specs, weightData: data.buffer, format: json.format ?? 'layers-model' };
}

/** Write `files` into directory `dir` atomically: a fresh sibling directory, fsync'd, then renamed over `dir`. */
export async function writeDirectoryAtomically(dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
  const fs = builtin<Fs>('node:fs/promises');
  const path = builtin<Path>('node:path');
  const parent = path.dirname(dir);
  await fs.mkdir(parent, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old`;
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(tmp);
  for (const [name, body] of Object.entries(files)) {
    const h = await fs.open(path.join(tmp, name), 'w');
    try {
      await h.writeFile(body);
      await h.sync();
    } finally {
      await h.close();
    }
  }
  await syncPath(fs, tmp);
  // dir -> dir.old, tmp -> dir, remove dir.old: a crash leaves dir or dir.old (readCheckpointDir takes either).
  await fs.rm(old, { recursive: true, force: true });
  const exists = await fs.stat(dir).then(() => true, () => false);
  if (exists) await fs.rename(dir, old);
  await fs.rename(tmp, dir);
  await syncPath(fs, parent);
  await fs.rm(old, { recursive: true, force: true });
}

async function syncPath(fs: Fs, p: string): Promise<void> {
  try {
    const h = await fs.open(p, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // No directory fsync on this platform.
  }
}

/** The directory written by writeDirectoryAtomically, or its previous version if a crash interrupted the swap; undefined if neither exists. */
export async function readableDirectory(dir: string): Promise<string | undefined> {
  const fs = builtin<Fs>('node:fs/promises');
  for (const d of [dir, `${dir}.old`]) if (await fs.stat(d).then((s) => s.isDirectory(), () => false)) return d;
  return undefined;
}

/** A model's tfjs layers-format files: `model.json` and `weights.bin`. */
export async function modelFiles(model: tf.LayersModel): Promise<{ 'model.json': string; 'weights.bin': Uint8Array }> {
  const tfjs = await import('@tensorflow/tfjs');
  let out: { 'model.json': string; 'weights.bin': Uint8Array } | undefined;
  await model.save(tfjs.io.withSaveHandler(async (a) => {
    const data = a.weightData === undefined ? new Uint8Array(0) : new Uint8Array(Array.isArray(a.weightData) ? concat(a.weightData) : a.weightData);
    const json: ModelJson = { modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs ?? [] }], format: 'layers-model', generatedBy: 'fedveil', convertedBy: null };
    out = { 'model.json': JSON.stringify(json), 'weights.bin': data };
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return out!;
}

function concat(buffers: ArrayBuffer[]): ArrayBuffer {
  const total = buffers.reduce((a, b) => a + b.byteLength, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), off);
    off += b.byteLength;
  }
  return out.buffer;
}
