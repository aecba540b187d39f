/**
 * `fedveil audit LEDGER.jsonl [--delta D] [--plot out.svg] [--public-key HEX] [--json]`:
 * verify a privacy ledger's hash chain and signatures, check every round's
 * parameters, recompute epsilon with every accountant, print a table,
 * optionally write an SVG plot.
 *
 * The report names the guarantee its epsilons are: if any round's event
 * relies on sampling amplification, `"guarantee": "model-observers"` (against
 * observers of the released models, valid if sampling was done as recorded);
 * otherwise `"coordinator"` (against the coordinator). It also states the
 * epsilon against the coordinator per identity (`againstCoordinator`): the
 * unamplified events of the rounds each committed identity took part in,
 * for the worst-case and the median identity (rounds without a participant
 * commitment count for every identity).
 *
 * Exit codes: 0 valid and within budget; 3 budget exceeded; 4 integrity or
 * consistency failure (names the first bad line and why); 1 usage or I/O error.
 */
import type { Command } from 'commander';
import { CliExit, parseInteger, parseNumber, parsePositiveInteger, printJson } from './common.js';
import type { LedgerReport } from '../dp/ledger-verify.js';
import type { AccountantName } from '../dp/ledger-format.js';

export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
export const EXIT_BUDGET_EXCEEDED = 3;
export const EXIT_INTEGRITY = 4;

export interface AuditOptions {
  delta?: number;
  plot?: string;
  publicKey?: string;
  expectHead?: string;
  expectRounds?: number;
  pldPoints?: number;
  json?: boolean;
}

export interface AuditResult {
  readonly exitCode: number;
  /** One line for stderr when exitCode != 0. */
  readonly message: string;
  /** What `--json` prints. */
  readonly json: Record<string, unknown>;
  /** The human-readable report (stdout without --json). */
  readonly text: string;
  readonly report: LedgerReport | null;
}

const fmt = (v: number | null | undefined): string => (v === null || v === undefined ? 'n/a' : Number.isFinite(v) ? String(Number(v.toPrecision(6))) : String(v));

function table(report: LedgerReport, accountants: readonly AccountantName[]): string {
  const head = ['round', ...accountants.map((a) => (a === 'gdp' ? 'gdp*' : a) + (a === report.accountant ? ' (ledger)' : '')), 'budget left', 'survivors/t', 'flags'];
  const rows = report.rounds.map((r) => [
    String(r.round), ...accountants.map((a) => (a in r.epsilon ? fmt(r.epsilon[a]) : '-')), fmt(r.budgetLeft),
    `${String(r.params.survivors)}/${String(r.params.minClients)}`, r.flags.join(','),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

/**
 * Run an audit without touching process state (tests call this directly).
 * I/O errors reading the ledger give exit 1; the plot is written when
 * requested and a header verified.
 */
export async function runAudit(path: string, options: AuditOptions = {}): Promise<AuditResult> {
  // Loaded on use: `fedveil --help` and other commands never load the accountants or vega.
  const fs = await import('node:fs/promises');
  const { verifyLedger } = await import('../dp/ledger-verify.js');
  const { ACCOUNTANT_NAMES } = await import('../dp/ledger-format.js');
  const { plotPointsFromReport, renderEpsilonPlot } = await import('../dp/plot.js');
  const { GUARANTEE_TEXT, guaranteeOf, composedEvent } = await import('../dp/events.js');
  const { ParticipationTally } = await import('../dp/participants.js');
  let data: Uint8Array;
  try {
    data = new Uint8Array(await fs.readFile(path));
  } catch (err) {
    const msg = `cannot read ledger ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    return { exitCode: EXIT_USAGE, message: msg, json: { ledger: path, exitCode: EXIT_USAGE, error: { message: msg } }, text: '', report: null };
  }
  let report: LedgerReport;
  try {
    report = verifyLedger(data, {
      ...(options.publicKey !== undefined ? { publicKey: options.publicKey } : {}),
      ...(options.delta !== undefined ? { delta: options.delta } : {}),
      ...(options.expectHead !== undefined ? { expectHead: options.expectHead } : {}),
      ...(options.expectRounds !== undefined ? { expectRounds: options.expectRounds } : {}),
      ...(options.pldPoints !== undefined ? { maxPoints: options.pldPoints } : {}),
    });
  } catch (err) {
    // Bad options (e.g. a malformed --public-key) are usage errors.
    const msg = err instanceof Error ? err.message : String(err);
    return { exitCode: EXIT_USAGE, message: msg, json: { ledger: path, exitCode: EXIT_USAGE, error: { message: msg } }, text: '', report: null };
  }

  let plot: string | undefined;
  if (options.plot !== undefined && report.header) {
    const svg = await renderEpsilonPlot({ points: plotPointsFromReport(report), budget: report.header.epsilonBudget, delta: report.delta });
    try {
      await fs.writeFile(options.plot, svg);
    } catch (err) {
      const msg = `cannot write plot ${options.plot}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      return { exitCode: EXIT_USAGE, message: msg, json: { ledger: path, exitCode: EXIT_USAGE, error: { message: msg } }, text: '', report };
    }
    plot = options.plot;
  }

  const own = report.accountant;
  const finalOwn = report.spent;
  let exitCode = EXIT_OK;
  let message = '';
  if (report.error) {
    exitCode = EXIT_INTEGRITY;
    message = `ledger ${path} failed verification at line ${String(report.error.line)}: ${report.error.reason}: ${report.issues[0]?.message ?? report.error.message}`;
  } else if (!report.withinBudget) {
    exitCode = EXIT_BUDGET_EXCEEDED;
    message = `budget exceeded: ${String(own)} epsilon ${fmt(finalOwn)} > budget ${fmt(report.budget)} at delta ${String(report.header?.delta)}`;
  }

  const accountants: readonly AccountantName[] = ACCOUNTANT_NAMES;
  const guarantee = guaranteeOf(composedEvent(report.rounds.map((r) => r.event)));
  // Against the coordinator, per identity: no amplification, from the participant commitments.
  const tally = new ParticipationTally();
  for (const r of report.rounds) tally.add(r.event, r.participants);
  const perAccountant = report.header && report.rounds.length > 0 ? accountants.map((a) => [a, tally.summary(a, report.delta)] as const) : [];
  const ownSummary = perAccountant.find(([a]) => a === own)?.[1] ?? perAccountant[0]?.[1];
  const againstCoordinator = ownSummary === undefined ? null : {
    guarantee: 'coordinator' as const,
    delta: report.delta,
    identities: ownSummary.identities,
    rounds: ownSummary.rounds,
    roundsWithParticipants: ownSummary.rounds - ownSummary.roundsWithoutParticipants,
    roundsWithoutParticipants: ownSummary.roundsWithoutParticipants,
    maxParticipations: ownSummary.maxParticipations,
    medianParticipations: ownSummary.medianParticipations,
    worst: { participations: ownSummary.worst.participations, epsilon: Object.fromEntries(perAccountant.map(([a, s]) => [a, s.worst.epsilon])) },
    median: { participations: ownSummary.median.participations, epsilon: Object.fromEntries(perAccountant.map(([a, s]) => [a, s.median.epsilon])) },
  };
  const json: Record<string, unknown> = {
    ledger: path,
    exitCode,
    valid: report.valid,
    withinBudget: report.withinBudget,
    error: report.error ? { line: report.error.line, reason: report.error.reason, message: report.issues[0]?.message ?? report.error.message } : null,
    issues: report.issues,
    keyPinned: report.keyPinned,
    publicKey: report.header?.publicKey ?? null,
    accountant: own,
    guarantee,
    againstCoordinator,
    delta: report.delta,
    budget: report.budget,
    rounds: report.rounds.map((r) => ({
      round: r.round, line: r.line, time: r.time, epsilon: r.epsilon, recordedEpsilon: r.recordedEpsilon,
      budgetLeft: r.budgetLeft, survivors: r.params.survivors, minClients: r.params.minClients, flags: r.flags,
      ...(Object.keys(r.unsupported).length > 0 ? { unsupported: r.unsupported } : {}),
    })),
    epsilon: report.epsilon,
    spent: report.spent,
    budgetLeft: finalOwn === null ? null : (report.budget ?? 0) - finalOwn,
    headHash: report.headHash,
    warnings: report.warnings,
    ...(plot !== undefined ? { plot } : {}),
  };

  const out: string[] = [];
  if (report.header) {
    const h = report.header;
    out.push(`ledger   ${path}`);
    out.push(`created  ${h.created}${h.description ? `  (${h.description})` : ''}`);
    out.push(`key      ${h.publicKey} ${report.keyPinned ? '(matches --public-key)' : '(NOT pinned: pass --public-key to check authorship)'}`);
    out.push(`budget   epsilon ${h.epsilonBudget} at delta ${h.delta}, ledger accountant ${h.accountant}; table at delta ${report.delta}`);
    out.push(`head     ${String(report.headHash)} (${report.rounds.length} rounds)`);
    out.push(`guarantee ${guarantee}: epsilon ${GUARANTEE_TEXT[guarantee]}`);
    if (againstCoordinator && ownSummary) {
      const a = ownSummary.accountant;
      out.push(`guarantee coordinator (per identity, no amplification): ${a} epsilon ${fmt(ownSummary.worst.epsilon)} for the identity with the most participations ` +
        `(${ownSummary.worst.participations} of ${ownSummary.rounds} rounds), ${fmt(ownSummary.median.epsilon)} for the median identity (${ownSummary.median.participations} round${ownSummary.median.participations === 1 ? '' : 's'}); ` +
        (ownSummary.roundsWithoutParticipants === ownSummary.rounds
          ? 'no round commits to its participants: every round is counted for every client'
          : `${ownSummary.identities} identities committed${ownSummary.roundsWithoutParticipants > 0 ? `; ${ownSummary.roundsWithoutParticipants} rounds without a participant commitment are counted for every identity` : ''}`));
    }
    out.push('');
    if (report.rounds.length > 0) {
      out.push(table(report, accountants));
      out.push('* gdp is the CLT approximation of Bu et al. 2020: it can under-report epsilon.');
      if (report.rounds.some((r) => accountants.some((a) => !(a in r.epsilon)))) out.push('- not recomputed at this round (PLD is sampled on a grid of rounds; the last round always is).');
      const unsupported = new Map<string, string>();
      for (const r of report.rounds) for (const [a, why] of Object.entries(r.unsupported)) if (!unsupported.has(a)) unsupported.set(a, why);
      for (const [a, why] of unsupported) out.push(`n/a: ${a} cannot account for these events (${why})`);
      out.push('');
    }
  }
  for (const i of report.issues) out.push(`${i.kind === 'integrity' ? 'INTEGRITY' : 'VIOLATION'} line ${i.line}${i.round !== undefined ? ` (round ${i.round})` : ''}: ${i.code}: ${i.message}`);
  for (const w of report.warnings) out.push(`warning: ${w}`);
  if (plot !== undefined) out.push(`plot written to ${plot}`);
  out.push(
    exitCode === EXIT_OK ? `OK: ledger verified; ${String(own)} epsilon ${fmt(finalOwn)} of budget ${fmt(report.budget)} at delta ${String(report.header?.delta)} (${GUARANTEE_TEXT[guarantee]})`
      : exitCode === EXIT_BUDGET_EXCEEDED ? `BUDGET EXCEEDED: ${message.replace(/^budget exceeded: /, '')}` : `FAILED: ${message}`,
  );
  return { exitCode, message, json, text: out.join('\n'), report };
}

export function register(program: Command): void {
  program
    .command('audit')
    .description('verify a privacy ledger (hash chain, signatures, parameters), recompute epsilon with every accountant, plot it. Exit 0 ok, 3 budget exceeded, 4 integrity failure, 1 usage/I/O error')
    .argument('<ledger>', 'ledger file (JSON Lines)')
    .option('--delta <D>', 'delta for the recomputed epsilons (default: the ledger header\'s)', parseNumber)
    .option('--plot <out.svg>', 'write an SVG plot of epsilon over rounds with the budget line')
    .option('--public-key <key>', 'the server\'s Ed25519 public key (hex or base64) the ledger must be signed with')
    .option('--expect-head <sha256>', 'expected SHA-256 (hex) of the last line: detects lines cut off the end')
    .option('--expect-rounds <n>', 'expected number of rounds: detects lines cut off the end', parseInteger)
    .option('--pld-points <n>', 'recompute PLD (slow) at most at n evenly spaced rounds plus the first and last (default 20)', parsePositiveInteger)
    .option('--json', 'print one JSON object on stdout')
    .action(async (ledger: string, opts: AuditOptions) => {
      if (opts.delta !== undefined && !(opts.delta > 0 && opts.delta < 1)) throw new CliExit(EXIT_USAGE, `--delta must be in (0, 1), got ${opts.delta}`);
      const result = await runAudit(ledger, opts);
      if (opts.json) printJson(result.json);
      else if (result.text) process.stdout.write(result.text + '\n');
      if (result.exitCode !== EXIT_OK) throw new CliExit(result.exitCode, result.message);
    });
}
