/**
 * Per-round privacy plans for the coordinator (see coordinator.ts
 * `PrivacyProvider`).
 *
 * - {@link nonPrivate}: secure aggregation still on, no clipping and no
 *   noise; updates are integer-encoded with a large scale (codec.ts). Used
 *   for the McMahan et al. 2017 reproduction. Spends no privacy budget and
 *   claims none: there is no ledger line for a non-private round.
 */
import { plainIntegerCodec } from './codec.js';
import type { PrivacyProvider } from './coordinator.js';

/** Non-private rounds: integer encoding sized to the roster, no noise, no DP event. */
export function nonPrivate(opts: { bits?: number; range?: number } = {}): PrivacyProvider {
  return ({ sampled, dim }) => Object.freeze({
    codec: plainIntegerCodec({ dim, maxClients: Math.max(1, sampled), ...(opts.bits === undefined ? {} : { bits: opts.bits }), ...(opts.range === undefined ? {} : { range: opts.range }) }),
    event: null,
    minClients: 1,
    params: null,
  });
}
