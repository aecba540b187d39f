/**
 * Apps as files: `fedveil serve --app ./server-app.js` and
 * `fedveil join --app ./client-app.js` load a user's ES module. Each
 * function receives the `tf` namespace fedveil runs with, so an app does not
 * need to resolve tfjs itself (and cannot load a second copy by accident).
 *
 * A client app module exports:
 *   model(ctx)           a tf.LayersModel (required), or `modelUrl`: a tfjs model.json
 *   data(ctx)            its local training data (required): tensors { xs, ys },
 *                        a tf.data.Dataset, { xs, labels } arrays or LabelledData
 *   evaluationData(ctx)  held-out data for federated evaluation (optional)
 *   training             { epochs, batchSize, learningRate, proximalMu } (optional)
 *
 * A server app module exports:
 *   model(ctx)           the same model (required), or `modelUrl`
 *   evaluate(model, ctx) server-side evaluation after each round (optional)
 *   strategy(ctx)        'fedavg' | 'fedadam' | 'fedyogi' or a Strategy (optional)
 *
 * `ctx` is `{ tf, args }`, where `args` holds the `--app-arg key=value`
 * pairs of the command line.
 */
import type * as tf from '@tensorflow/tfjs';
import { InvalidArgument } from '../errors.js';
import type { ClientData, TrainingOptions } from './client-app.js';
import type { Strategy } from './strategy.js';

export interface AppContext {
  readonly tf: typeof tf;
  readonly args: Readonly<Record<string, string>>;
}

export interface ClientAppModule {
  readonly model: () => Promise<tf.LayersModel> | tf.LayersModel;
  readonly data: () => Promise<ClientData>;
  readonly evaluationData?: () => Promise<ClientData>;
  readonly training?: TrainingOptions;
}

export interface ServerAppModule {
  readonly model: () => Promise<tf.LayersModel> | tf.LayersModel;
  readonly evaluate?: (model: tf.LayersModel, round: number) => Promise<number | undefined>;
  readonly strategy?: Strategy;
}

async function importModule(file: string): Promise<Record<string, unknown>> {
  const path = await import('node:path');
  const { pathToFileURL } = await import('node:url');
  const abs = path.resolve(file);
  try {
    return (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    throw new InvalidArgument(`app ${file}: cannot load it (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`, { cause: err });
  }
}

async function modelOf(file: string, m: Record<string, unknown>, ctx: AppContext): Promise<() => Promise<tf.LayersModel>> {
  if (typeof m.model === 'function') {
    const build = m.model as (ctx: AppContext) => unknown;
    return async () => {
      const model = await build(ctx);
      if (!model || typeof (model as tf.LayersModel).getWeights !== 'function') throw new InvalidArgument(`app ${file}: model() must return a tf.LayersModel`);
      return model as tf.LayersModel;
    };
  }
  if (typeof m.modelUrl === 'string') {
    const path = await import('node:path');
    const url = /^[a-z]+:\/\//i.test(m.modelUrl) ? m.modelUrl : path.resolve(path.dirname(path.resolve(file)), m.modelUrl);
    const { loadModelFiles } = await import('./model-files.js');
    return async () => (/^https?:\/\//i.test(url) ? ctx.tf.loadLayersModel(url) : ctx.tf.loadLayersModel(ctx.tf.io.fromMemory(await loadModelFiles(url))));
  }
  throw new InvalidArgument(`app ${file}: export a model(ctx) function or a modelUrl string`);
}

async function context(args: Record<string, string>): Promise<AppContext> {
  const tfjs = await import('@tensorflow/tfjs');
  return Object.freeze({ tf: tfjs, args: Object.freeze({ ...args }) });
}

/** Load and check a client app module. */
export async function loadClientAppModule(file: string, args: Record<string, string> = {}): Promise<ClientAppModule> {
  const m = await importModule(file);
  const ctx = await context(args);
  const model = await modelOf(file, m, ctx);
  if (typeof m.data !== 'function') throw new InvalidArgument(`app ${file}: export a data(ctx) function returning the client's training data`);
  if (m.evaluationData !== undefined && typeof m.evaluationData !== 'function') throw new InvalidArgument(`app ${file}: evaluationData must be a function`);
  if (m.training !== undefined && (typeof m.training !== 'object' || m.training === null)) throw new InvalidArgument(`app ${file}: training must be an object`);
  const data = m.data as (ctx: AppContext) => Promise<ClientData>;
  const evaluationData = m.evaluationData as ((ctx: AppContext) => Promise<ClientData>) | undefined;
  return Object.freeze({
    model, data: async () => data(ctx),
    ...(evaluationData ? { evaluationData: async () => evaluationData(ctx) } : {}),
    ...(m.training ? { training: m.training as TrainingOptions } : {}),
  });
}

/** Load and check a server app module. */
export async function loadServerAppModule(file: string, args: Record<string, string> = {}): Promise<ServerAppModule> {
  const m = await importModule(file);
  const ctx = await context(args);
  const model = await modelOf(file, m, ctx);
  if (m.evaluate !== undefined && typeof m.evaluate !== 'function') throw new InvalidArgument(`app ${file}: evaluate must be a function (model, ctx) => accuracy`);
  let strategy: Strategy | undefined;
  if (m.strategy !== undefined) {
    const s = typeof m.strategy === 'function' ? await (m.strategy as (ctx: AppContext) => unknown)(ctx) : m.strategy;
    const { fedAdam, fedAvg, fedYogi } = await import('./strategy.js');
    if (s === 'fedavg') strategy = fedAvg();
    else if (s === 'fedadam') strategy = fedAdam();
    else if (s === 'fedyogi') strategy = fedYogi();
    else if (s && typeof (s as Strategy).apply === 'function' && typeof (s as Strategy).state === 'function') strategy = s as Strategy;
    else throw new InvalidArgument(`app ${file}: strategy must be 'fedavg', 'fedadam', 'fedyogi' or a Strategy`);
  }
  const evaluate = m.evaluate as ((model: tf.LayersModel, ctx: AppContext & { round: number }) => unknown) | undefined;
  return Object.freeze({
    model,
    ...(evaluate ? { evaluate: async (mdl: tf.LayersModel, round: number) => {
      const v = await evaluate(mdl, { ...ctx, round });
      return typeof v === 'number' ? v : undefined;
    } } : {}),
    ...(strategy ? { strategy } : {}),
  });
}
