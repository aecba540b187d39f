/**
 * The coordinator's human status page (`GET /`): current round, clients and
 * privacy budget spent, refreshed every few seconds. Pure string rendering;
 * every value is escaped.
 *
 * Every epsilon names its guarantee: the ledger's figure (all rounds
 * composed; amplified by sampling only if the events say so) and the figure
 * against the coordinator per client, from the participant commitments
 * (the client with the most participations and the median client).
 */
import { GUARANTEE_TEXT, type Guarantee } from '../dp/events.js';
import type { CoordinatorEpsilon } from '../dp/participants.js';
import type { CoordinatorStatus } from './round-coordinator.js';

export interface PrivacyStatus {
  /** Epsilon spent so far, every recorded round composed (null: no ledger configured). */
  epsilon: number | null;
  budget: number | null;
  delta: number | null;
  ledgerRounds: number | null;
  /** Whom `epsilon` protects against (null: no ledger or no rounds yet). */
  guarantee?: Guarantee | null;
  /** Epsilon against the coordinator per client, from the participant commitments (null: no ledger). */
  againstCoordinator?: CoordinatorEpsilon | null;
}

/** What the ledger's epsilon protects against, in words. */
export function ledgerGuaranteeText(guarantee: Guarantee): string {
  return guarantee === 'model-observers'
    ? GUARANTEE_TEXT['model-observers']
    : 'against the coordinator with no sampling amplification claimed (a client in every round; it holds against observers of the released models too)';
}

/** The ledger's epsilon with its budget, delta and guarantee (one line). */
export function formatLedgerEpsilon(p: PrivacyStatus): string {
  if (p.epsilon === null) return 'no ledger configured';
  const g = p.guarantee ?? null;
  return `${p.epsilon.toFixed(4)}${p.budget !== null ? ` of ${p.budget}` : ''} (delta ${p.delta ?? '?'})${g ? `; guarantee ${g}: ${ledgerGuaranteeText(g)}` : ''}`;
}

const fmtEps = (e: number | null): string => (e === null ? 'n/a' : Number.isFinite(e) ? e.toFixed(4) : String(e));
const rounds = (n: number): string => `${n} round${n === 1 ? '' : 's'}`;

/** The epsilon against the coordinator per client (one line). */
export function formatCoordinatorEpsilon(ac: CoordinatorEpsilon | null | undefined): string {
  if (!ac) return 'no ledger configured';
  if (ac.rounds === 0) return 'no rounds yet';
  return `guarantee coordinator (no amplification): ${fmtEps(ac.worst.epsilon)} for the client with the most participations (${rounds(ac.worst.participations)}), ` +
    `${fmtEps(ac.median.epsilon)} for the median client (${rounds(ac.median.participations)}); ${ac.identities} clients` +
    (ac.roundsWithoutParticipants > 0 ? `; ${rounds(ac.roundsWithoutParticipants)} without a participant commitment counted for every client` : '');
}

function esc(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function renderStatusPage(status: CoordinatorStatus, privacy: PrivacyStatus, opts: { demo: boolean }): string {
  const eps = formatLedgerEpsilon(privacy);
  const last = status.lastRound
    ? `round ${status.lastRound.round}: ${status.lastRound.ok ? 'ok' : `aborted (${esc(status.lastRound.reason)})`}, ${status.lastRound.survivors}/${status.lastRound.n} survivors, ${status.lastRound.durationMs} ms`
    : 'none yet';
  const rows: Array<[string, string]> = [
    ['State', esc(status.state)],
    ['Current round', status.round === null ? '-' : `${status.round} (${esc(status.stage ?? '')})`],
    ['Rounds completed', `${status.roundsCompleted}${status.roundsPlanned !== null ? ` of ${status.roundsPlanned}` : ''}`],
    ['Clients connected', String(status.clients.connected)],
    ['Clients authenticated', String(status.clients.authenticated)],
    ['Clients in this round', String(status.clients.inRound)],
    ['Minimum clients per round', String(status.minClients)],
    ['Vector length d / bits b', `${status.dim} / ${status.bits}`],
    ['Epsilon spent', esc(eps)],
    ['Epsilon against the coordinator', esc(formatCoordinatorEpsilon(privacy.againstCoordinator))],
    ['Last round', last],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="3">
<title>fedveil coordinator - ${esc(status.name)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:48rem}td,th{padding:.3rem .8rem;text-align:left;border-bottom:1px solid #ddd}th{color:#555;font-weight:500}</style>
</head><body>
<h1>fedveil coordinator</h1>
<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td id="${esc(k.toLowerCase().replace(/[^a-z]+/g, '-'))}">${v}</td></tr>`).join('')}</table>
<p><a href="/status">JSON status</a>${opts.demo ? ' &middot; <a href="/demo/">browser demo client</a>' : ''}</p>
</body></html>
`;
}
