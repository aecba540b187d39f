/**
 * The common interface of fedveil's privacy accountants and one-call helpers.
 *
 * Three accountants answer the same questions about a composition of
 * {@link DpEvent}s. Neighbouring relation: "zero-out" (one client's update
 * replaced by the zero vector, docs/accounting.md); for central noise its
 * accounting is dp_accounting's add_or_remove_one, the default mode below.
 * - `rdp`: Renyi DP (Mironov 2017; Mironov, Talwar, Zhang 2019), converted to
 *   (eps, delta) by Canonne-Kamath-Steinke 2020 Prop. 12. A sound upper bound.
 * - `pld`: discretized privacy loss distributions (Koskela et al. 2020;
 *   Doroshenko et al. 2022 "connect the dots", pessimistic). A sound upper
 *   bound up to the stated tail-mass truncation (1e-15), usually the tightest.
 * - `gdp`: Gaussian DP via the central limit theorem of Bu, Dong, Long, Su
 *   2020. APPROXIMATE: it is an asymptotic statement and can under-report
 *   epsilon; `approximate: true` marks every result it produces.
 */
import { InvalidArgument } from '../errors.js';
import { anumber, aoneOf } from '../util/assert.js';
import type { DpEvent } from './events.js';
import { GdpAccountant } from './gdp.js';
import { PldAccountant, choosePldDiscretization, type PldAccountantOptions } from './pld.js';
import { RdpAccountant, type RdpAccountantOptions } from './rdp.js';

export type AccountantKind = 'rdp' | 'pld' | 'gdp';
export const ACCOUNTANT_KINDS: readonly AccountantKind[] = Object.freeze(['rdp', 'pld', 'gdp'] as const);

/**
 * dp_accounting's NeighboringRelation, in snake_case. 'add_or_remove_one' is
 * the accounting of the zero-out relation (identical for central noise; for
 * the distributed integer mechanisms see src/dp/distributed-rdp.ts).
 */
export type NeighboringRelation = 'add_or_remove_one' | 'replace_one';

export interface PrivacyAccountant {
  readonly kind: AccountantKind;
  /** true when results can under-report the privacy loss (GDP-CLT). */
  readonly approximate: boolean;
  /** Numerical warnings collected while composing (e.g. an RDP order dropped). Never printed. */
  readonly warnings: readonly string[];
  /** true if `compose(event)` would succeed. */
  supports(event: DpEvent): boolean;
  /**
   * Compose `event` `count` times into the accountant's state. Throws
   * UnsupportedEvent (state unchanged) when the accountant has no bound for it.
   */
  compose(event: DpEvent, count?: number): this;
  /** Smallest epsilon such that the composition is (epsilon, delta)-DP. */
  epsilon(delta: number): number;
  /** Smallest delta such that the composition is (epsilon, delta)-DP. */
  delta(epsilon: number): number;
}

export interface AccountantOptions {
  rdp?: RdpAccountantOptions;
  pld?: PldAccountantOptions;
}

export function createAccountant(kind: AccountantKind, options: AccountantOptions = {}): PrivacyAccountant {
  aoneOf('accountant', kind, ACCOUNTANT_KINDS);
  switch (kind) {
    case 'rdp':
      return new RdpAccountant(options.rdp);
    case 'pld':
      return new PldAccountant(options.pld);
    case 'gdp':
      return new GdpAccountant();
  }
}

export interface EpsilonResult {
  accountant: AccountantKind;
  epsilon: number;
  delta: number;
  /** The RDP order at which the bound is attained (RDP only). */
  order?: number;
  /** Present and true for GDP-CLT: the value can under-report. */
  approximate?: true;
  /** Numerical warnings, if any (e.g. RDP orders dropped). */
  warnings?: string[];
}

/** Epsilon at `delta` of one event with one accountant (a fresh accountant each call). */
export function computeEpsilon(event: DpEvent, delta: number, accountant: AccountantKind = 'rdp', options: AccountantOptions = {}): EpsilonResult {
  anumber('delta', delta, 0, 1);
  if (accountant === 'rdp') {
    const acc = new RdpAccountant(options.rdp).compose(event);
    const { epsilon, order } = acc.epsilonAndOrder(delta);
    return withWarnings({ accountant, epsilon, delta, order }, acc.warnings);
  }
  const acc = createAccountant(accountant, withPldGrid(event, accountant, options, () => new RdpAccountant().compose(event).epsilon(delta))).compose(event);
  const result: EpsilonResult = { accountant, epsilon: acc.epsilon(delta), delta };
  if (acc.approximate) result.approximate = true;
  return withWarnings(result, acc.warnings);
}

/** Delta at `epsilon` of one event with one accountant. */
export function computeDelta(event: DpEvent, epsilon: number, accountant: AccountantKind = 'rdp', options: AccountantOptions = {}): number {
  if (!(epsilon >= 0)) throw new InvalidArgument(`epsilon: expected a number >= 0, got ${epsilon}`);
  return createAccountant(accountant, withPldGrid(event, accountant, options, () => epsilon)).compose(event).delta(epsilon);
}

/**
 * For a one-shot PLD answer without an explicit grid, choose the grid from
 * the problem: choosePldDiscretization of a first epsilon estimate (the RDP
 * epsilon at the requested delta, an upper bound; or the requested epsilon).
 */
function withPldGrid(event: DpEvent, accountant: AccountantKind, options: AccountantOptions, estimate: () => number): AccountantOptions {
  if (accountant !== 'pld' || options.pld?.valueDiscretizationInterval !== undefined) return options;
  let eps: number;
  try {
    eps = estimate();
  } catch {
    eps = Infinity; // no RDP estimate (the PLD accountant will say whether it supports the event)
  }
  return { ...options, pld: { ...options.pld, valueDiscretizationInterval: choosePldDiscretization(eps) } };
}

function withWarnings(result: EpsilonResult, warnings: readonly string[]): EpsilonResult {
  if (warnings.length > 0) result.warnings = [...warnings];
  return result;
}
