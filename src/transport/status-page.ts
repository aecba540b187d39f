/**
 * The coordinator's human status page (`GET /`): current round, clients and
 * privacy budget spent, refreshed every few seconds. Pure string rendering;
 * every value is escaped.
 */
import type { CoordinatorStatus } from './coordinator.js';

export interface PrivacyStatus {
  /** Epsilon spent so far (null: no ledger configured). */
  epsilon: number | null;
  budget: number | null;
  delta: number | null;
  ledgerRounds: number | null;
}

function esc(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function renderStatusPage(status: CoordinatorStatus, privacy: PrivacyStatus, opts: { demo: boolean }): string {
  const eps = privacy.epsilon === null ? 'no ledger configured' : `${privacy.epsilon.toFixed(4)}${privacy.budget !== null ? ` of ${privacy.budget}` : ''} (delta ${privacy.delta ?? '?'})`;
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
