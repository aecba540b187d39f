/** Shared imports and fixtures of the PLD tests. */
import type { SkellamEvent } from '../../src/dp/index.js';

export * from '../../src/dp/index.js';
export { composePmfs, gaussianPldPmf, pmfDelta, pmfEpsilon, selfComposePmf, selfComposePmfPair } from '../../src/dp/pld.js';
export { gdpDelta } from '../../src/dp/gdp.js';

export function skellamEventForTest(): SkellamEvent {
  return { type: 'skellam', mu: 100, clients: 10, l2Sensitivity: 10, l1Sensitivity: 100, dimension: 1024 };
}
