/**
 * The coordinator's status page and its privacy lines name the guarantee of
 * every epsilon: the ledger's figure (with or without sampling
 * amplification) and the figure against the coordinator per client, from
 * the participant commitments.
 */
import { gaussianEvent, poissonSampledEvent } from '../../src/dp/events.js';
import { ParticipationTally } from '../../src/dp/participants.js';
import type { CoordinatorStatus } from '../../src/fl/round-coordinator.js';
import { formatCoordinatorEpsilon, formatLedgerEpsilon, renderStatusPage, type PrivacyStatus } from '../../src/fl/status-page.js';

const status: CoordinatorStatus = {
  name: 'c', state: 'waiting', round: null, stage: null, roundsCompleted: 3, roundsPlanned: null,
  clients: { connected: 4, authenticated: 4, inRound: 0 }, minClients: 3, dim: 16, bits: 20,
  lastRound: { round: 3, ok: true, n: 4, survivors: 3, durationMs: 10, reason: '' },
};

/** Three unsampled rounds: client a in all three, b in two, c and d in one each. */
function tally(): ParticipationTally {
  const t = new ParticipationTally();
  const h = (c: string): string => c.repeat(64);
  t.add(gaussianEvent(2), [h('a'), h('b'), h('c')]);
  t.add(gaussianEvent(2), [h('a'), h('b'), h('d')]);
  t.add(gaussianEvent(2), [h('a'), h('c'), h('d')]);
  return t;
}

const cell = (html: string, id: string): string => new RegExp(`<td id="${id}">([^<]*)</td>`).exec(html)?.[1] ?? '';

test('a serve ledger (no amplification claimed): both rows name their guarantee; per client the max and the median', () => {
  const ac = tally().summary('rdp', 1e-5);
  const privacy: PrivacyStatus = { epsilon: 3.25, budget: 10, delta: 1e-5, ledgerRounds: 3, guarantee: 'coordinator', againstCoordinator: ac };
  const html = renderStatusPage(status, privacy, { demo: false });
  expect(cell(html, 'epsilon-spent')).toBe('3.2500 of 10 (delta 0.00001); guarantee coordinator: against the coordinator with no sampling amplification claimed (a client in every round; it holds against observers of the released models too)');
  const row = cell(html, 'epsilon-against-the-coordinator');
  expect(row).toMatch(/^guarantee coordinator \(no amplification\): \d+\.\d{4} for the client with the most participations \(3 rounds\), \d+\.\d{4} for the median client \(2 rounds\); 4 clients$/);
  // participations a: 3, b, c, d: 2 -> upper median 2
  expect(ac).toMatchObject({ maxParticipations: 3, medianParticipations: 2, identities: 4 });
});

test('an amplified ledger figure says it holds against observers of the released models, if sampling was done as recorded', () => {
  const t = new ParticipationTally();
  t.add(poissonSampledEvent(0.1, gaussianEvent(1)));
  const privacy: PrivacyStatus = { epsilon: 0.5, budget: 8, delta: 1e-5, ledgerRounds: 1, guarantee: 'model-observers', againstCoordinator: t.summary('rdp', 1e-5) };
  expect(formatLedgerEpsilon(privacy)).toBe('0.5000 of 8 (delta 0.00001); guarantee model-observers: against observers of the released models, valid if sampling was done as recorded');
  // a round without a commitment counts for every client
  expect(formatCoordinatorEpsilon(privacy.againstCoordinator)).toMatch(/the most participations \(1 round\).*; 1 round without a participant commitment counted for every client$/);
});

test('no ledger: both rows say so', () => {
  const html = renderStatusPage(status, { epsilon: null, budget: null, delta: null, ledgerRounds: null }, { demo: false });
  expect(cell(html, 'epsilon-spent')).toBe('no ledger configured');
  expect(cell(html, 'epsilon-against-the-coordinator')).toBe('no ledger configured');
});
