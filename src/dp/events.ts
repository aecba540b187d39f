/**
 * Privacy events: a JSON-serialisable description of what a mechanism did,
 * mirroring Google's dp_accounting `DpEvent` classes one to one so that an
 * auditor can rebuild the same event in Python:
 *
 *   { type: 'gaussian', noiseMultiplier }                  -> GaussianDpEvent(noise_multiplier)
 *   { type: 'discrete_gaussian', ... }                     -> DiscreteGaussianDpEvent (fields: distributed-rdp.ts)
 *   { type: 'skellam', ... }                               -> (no dp_accounting class; Agarwal et al. 2021)
 *   { type: 'poisson_sampled', samplingProbability, event } -> PoissonSampledDpEvent(sampling_probability, event)
 *   { type: 'sampled_without_replacement', sourceDatasetSize, sampleSize, event }
 *                                                          -> SampledWithoutReplacementDpEvent(...)
 *   { type: 'self_composed', event, count }                -> SelfComposedDpEvent(event, count)
 *   { type: 'composed', events }                           -> ComposedDpEvent(events)
 *
 * Field names are the camelCase of dp_accounting's snake_case attributes.
 * Events are plain data: no classes, no methods, so `JSON.parse(JSON.stringify(e))`
 * is the same event. Constructors below validate and freeze.
 */
import { FedveilError, InvalidArgument } from '../errors.js';
import { aint, anumber, apositive } from '../util/assert.js';
import type { DiscreteGaussianEvent, SkellamEvent } from './distributed-rdp.js';

export type { DiscreteGaussianEvent, SkellamEvent } from './distributed-rdp.js';

/** Gaussian mechanism with noise standard deviation = noiseMultiplier * L2 sensitivity. */
export interface GaussianEvent {
  readonly type: 'gaussian';
  readonly noiseMultiplier: number;
}

/** Each record (client) is included independently with probability samplingProbability. */
export interface PoissonSampledEvent {
  readonly type: 'poisson_sampled';
  readonly samplingProbability: number;
  readonly event: DpEvent;
}

/** A uniformly random subset of sampleSize out of sourceDatasetSize records (replace-one adjacency). */
export interface SampledWithoutReplacementEvent {
  readonly type: 'sampled_without_replacement';
  readonly sourceDatasetSize: number;
  readonly sampleSize: number;
  readonly event: DpEvent;
}

/** The same event run `count` times on the same data. */
export interface SelfComposedEvent {
  readonly type: 'self_composed';
  readonly event: DpEvent;
  readonly count: number;
}

/** A sequence of events run on the same data. */
export interface ComposedEvent {
  readonly type: 'composed';
  readonly events: readonly DpEvent[];
}

export type DpEvent =
  | GaussianEvent
  | DiscreteGaussianEvent
  | SkellamEvent
  | PoissonSampledEvent
  | SampledWithoutReplacementEvent
  | SelfComposedEvent
  | ComposedEvent;

export type DpEventType = DpEvent['type'];

/**
 * An accountant was given an event it has no sound bound for (e.g. the PLD
 * accountant and a Skellam event). `event` is the offending sub-event.
 */
export class UnsupportedEvent extends FedveilError {
  readonly event: unknown;
  constructor(message: string, event: unknown) {
    super('UNSUPPORTED_EVENT', message);
    this.event = event;
  }
}

export const DP_EVENT_TYPES: readonly DpEventType[] = Object.freeze([
  'gaussian',
  'discrete_gaussian',
  'skellam',
  'poisson_sampled',
  'sampled_without_replacement',
  'self_composed',
  'composed',
] as const);

export function gaussianEvent(noiseMultiplier: number): GaussianEvent {
  anumber('noiseMultiplier', noiseMultiplier, 0);
  return Object.freeze({ type: 'gaussian', noiseMultiplier });
}

export function poissonSampledEvent(samplingProbability: number, event: DpEvent): PoissonSampledEvent {
  anumber('samplingProbability', samplingProbability, 0, 1);
  validateEvent(event);
  return Object.freeze({ type: 'poisson_sampled', samplingProbability, event });
}

export function sampledWithoutReplacementEvent(sourceDatasetSize: number, sampleSize: number, event: DpEvent): SampledWithoutReplacementEvent {
  aint('sourceDatasetSize', sourceDatasetSize, 1);
  aint('sampleSize', sampleSize, 0, sourceDatasetSize);
  validateEvent(event);
  return Object.freeze({ type: 'sampled_without_replacement', sourceDatasetSize, sampleSize, event });
}

export function selfComposedEvent(event: DpEvent, count: number): SelfComposedEvent {
  aint('count', count, 0);
  validateEvent(event);
  return Object.freeze({ type: 'self_composed', event, count });
}

export function composedEvent(events: readonly DpEvent[]): ComposedEvent {
  if (!Array.isArray(events)) throw new InvalidArgument('events: expected an array of events');
  for (const e of events) validateEvent(e);
  return Object.freeze({ type: 'composed', events: Object.freeze([...events]) });
}

/**
 * The event of T rounds of DP-FedAvg / DP-SGD with Poisson sampling:
 * self_composed(poisson_sampled(q, gaussian(z)), T). With q = 1 the sampling
 * wrapper is kept (it is exact: dp_accounting treats q = 1 as no sampling).
 */
export function poissonGaussianRounds(noiseMultiplier: number, samplingProbability: number, rounds: number): SelfComposedEvent {
  return selfComposedEvent(poissonSampledEvent(samplingProbability, gaussianEvent(noiseMultiplier)), rounds);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validate an event parsed from untrusted JSON (e.g. a ledger line): every
 * field present, of the right type and range, recursively. Throws
 * InvalidArgument naming the path of the first bad field.
 */
export function validateEvent(event: unknown, path = 'event'): asserts event is DpEvent {
  if (!isObject(event)) throw new InvalidArgument(`${path}: expected an event object`);
  const t = event.type;
  switch (t) {
    case 'gaussian':
      anumber(`${path}.noiseMultiplier`, event.noiseMultiplier, 0);
      return;
    case 'discrete_gaussian':
      apositive(`${path}.sigma`, event.sigma);
      checkDistributedCommon(event, path);
      return;
    case 'skellam':
      apositive(`${path}.mu`, event.mu);
      checkDistributedCommon(event, path);
      return;
    case 'poisson_sampled':
      anumber(`${path}.samplingProbability`, event.samplingProbability, 0, 1);
      validateEvent(event.event, `${path}.event`);
      return;
    case 'sampled_without_replacement':
      aint(`${path}.sourceDatasetSize`, event.sourceDatasetSize, 1);
      aint(`${path}.sampleSize`, event.sampleSize, 0, event.sourceDatasetSize as number);
      validateEvent(event.event, `${path}.event`);
      return;
    case 'self_composed':
      aint(`${path}.count`, event.count, 0);
      validateEvent(event.event, `${path}.event`);
      return;
    case 'composed': {
      const events = event.events;
      if (!Array.isArray(events)) throw new InvalidArgument(`${path}.events: expected an array`);
      events.forEach((e, i) => validateEvent(e, `${path}.events[${i}]`));
      return;
    }
    default:
      throw new InvalidArgument(`${path}.type: expected one of ${DP_EVENT_TYPES.join(', ')}, got ${JSON.stringify(t)}`);
  }
}

function checkDistributedCommon(event: Record<string, unknown>, path: string): void {
  aint(`${path}.clients`, event.clients, 1);
  apositive(`${path}.l2Sensitivity`, event.l2Sensitivity);
  apositive(`${path}.l1Sensitivity`, event.l1Sensitivity);
  aint(`${path}.dimension`, event.dimension, 1);
}

/**
 * A one-line human description, e.g.
 * `self_composed(poisson_sampled(0.04, gaussian(1.5)), 2250)`.
 */
export function describeEvent(event: DpEvent): string {
  switch (event.type) {
    case 'gaussian':
      return `gaussian(${event.noiseMultiplier})`;
    case 'discrete_gaussian':
      return `discrete_gaussian(sigma=${event.sigma}, clients=${event.clients}, dim=${event.dimension})`;
    case 'skellam':
      return `skellam(mu=${event.mu}, clients=${event.clients}, dim=${event.dimension})`;
    case 'poisson_sampled':
      return `poisson_sampled(${event.samplingProbability}, ${describeEvent(event.event)})`;
    case 'sampled_without_replacement':
      return `sampled_without_replacement(${event.sampleSize}/${event.sourceDatasetSize}, ${describeEvent(event.event)})`;
    case 'self_composed':
      return `self_composed(${describeEvent(event.event)}, ${event.count})`;
    case 'composed':
      return `composed(${event.events.map(describeEvent).join(', ')})`;
  }
}

/**
 * The Python expression building the same event with Google's dp_accounting
 * (`import dp_accounting`), so an auditor can recompute epsilon there, e.g.
 * `dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(0.04,
 * dp_accounting.GaussianDpEvent(1.5)), 2250)`. The multi-dimensional
 * distributed events have no dp_accounting class: they become
 * `dp_accounting.UnsupportedDpEvent()` (their bounds live in distributed-rdp.ts).
 */
export function toDpAccountingPython(event: DpEvent): string {
  switch (event.type) {
    case 'gaussian':
      return `dp_accounting.GaussianDpEvent(${event.noiseMultiplier})`;
    case 'discrete_gaussian':
    case 'skellam':
      return 'dp_accounting.UnsupportedDpEvent()';
    case 'poisson_sampled':
      return `dp_accounting.PoissonSampledDpEvent(${event.samplingProbability}, ${toDpAccountingPython(event.event)})`;
    case 'sampled_without_replacement':
      return `dp_accounting.SampledWithoutReplacementDpEvent(${event.sourceDatasetSize}, ${event.sampleSize}, ${toDpAccountingPython(event.event)})`;
    case 'self_composed':
      return `dp_accounting.SelfComposedDpEvent(${toDpAccountingPython(event.event)}, ${event.count})`;
    case 'composed':
      return `dp_accounting.ComposedDpEvent([${event.events.map(toDpAccountingPython).join(', ')}])`;
  }
}

/**
 * Who an epsilon computed from `event` protects against. Privacy amplification
 * by sampling (a poisson_sampled or sampled_without_replacement wrapper that
 * actually subsamples) holds only against parties who do not learn who was
 * sampled: observers of the released models, and only if sampling was done as
 * recorded. The coordinator sees which clients took part, so against it only
 * the unamplified guarantee holds.
 */
export type Guarantee = 'model-observers' | 'coordinator';

export const GUARANTEE_TEXT: Readonly<Record<Guarantee, string>> = Object.freeze({
  'model-observers': 'against observers of the released models, valid if sampling was done as recorded',
  coordinator: 'against the coordinator',
});

/** true if some part of `event` relies on amplification by subsampling (q < 1 or m < n). */
export function usesSamplingAmplification(event: DpEvent): boolean {
  switch (event.type) {
    case 'poisson_sampled':
      return event.samplingProbability < 1 || usesSamplingAmplification(event.event);
    case 'sampled_without_replacement':
      return event.sampleSize < event.sourceDatasetSize || usesSamplingAmplification(event.event);
    case 'self_composed':
      return event.count > 0 && usesSamplingAmplification(event.event);
    case 'composed':
      return event.events.some(usesSamplingAmplification);
    default:
      return false;
  }
}

/** The guarantee an epsilon of `event` is: 'model-observers' with amplification, else 'coordinator'. */
export function guaranteeOf(event: DpEvent): Guarantee {
  return usesSamplingAmplification(event) ? 'model-observers' : 'coordinator';
}

/**
 * The same event without sampling amplification: every sampling wrapper is
 * replaced by the mechanism it wraps (the guarantee against the coordinator,
 * who knows the sample; q = 0 rounds, where nobody took part, stay at 0).
 */
export function withoutSamplingAmplification(event: DpEvent): DpEvent {
  switch (event.type) {
    case 'poisson_sampled':
      return event.samplingProbability === 0 ? selfComposedEvent(event.event, 0) : withoutSamplingAmplification(event.event);
    case 'sampled_without_replacement':
      return event.sampleSize === 0 ? selfComposedEvent(event.event, 0) : withoutSamplingAmplification(event.event);
    case 'self_composed':
      return selfComposedEvent(withoutSamplingAmplification(event.event), event.count);
    case 'composed':
      return composedEvent(event.events.map(withoutSamplingAmplification));
    default:
      return event;
  }
}
