/**
 * SVG plot of a ledger's epsilon over rounds, one line per accountant, with
 * the budget as a dashed horizontal rule. Built as a Vega 6 specification
 * and rendered headless (`renderer: 'none'`, `View#toSVG`): no browser, no
 * canvas, no network (all data is inline).
 *
 * `vega` is an optional dependency, imported lazily so that importing the
 * dp layer does not load it; without it `renderEpsilonPlot` rejects with
 * MissingDependency (code MISSING_DEPENDENCY).
 */
import { asMissingDependency } from '../util/optional.js';
import type { AccountantName } from './ledger-format.js';
import type { LedgerReport } from './ledger-verify.js';

export interface EpsilonPlotPoint {
  readonly round: number;
  readonly accountant: AccountantName;
  readonly epsilon: number;
}

export interface EpsilonPlotInput {
  readonly points: readonly EpsilonPlotPoint[];
  readonly budget: number;
  readonly delta: number;
  readonly title?: string;
  readonly width?: number;
  readonly height?: number;
}

/** Budget rule colour: not in Vega's category10 palette, so it never matches an accountant's line. */
export const BUDGET_COLOUR = '#222222';

const ACCOUNTANT_LABEL: Record<AccountantName, string> = { rdp: 'RDP', pld: 'PLD', gdp: 'GDP (approx.)' };

/** The points of a verified ledger report (finite epsilons only). */
export function plotPointsFromReport(report: LedgerReport): EpsilonPlotPoint[] {
  const points: EpsilonPlotPoint[] = [];
  for (const r of report.rounds) {
    for (const [accountant, epsilon] of Object.entries(r.epsilon) as Array<[AccountantName, number | null]>) {
      if (epsilon !== null && Number.isFinite(epsilon)) points.push({ round: r.round, accountant, epsilon });
    }
  }
  return points;
}

/** The Vega specification (plain JSON) of the plot. */
export function epsilonPlotSpec(input: EpsilonPlotInput): Record<string, unknown> {
  const width = input.width ?? 640;
  const height = input.height ?? 360;
  const series = input.points.map((p) => ({ round: p.round, epsilon: p.epsilon, accountant: ACCOUNTANT_LABEL[p.accountant] ?? p.accountant }));
  return {
    $schema: 'https://vega.github.io/schema/vega/v6.json',
    description: 'fedveil privacy ledger: epsilon spent over rounds',
    width,
    height,
    padding: 8,
    title: { text: input.title ?? `Privacy budget spent (delta = ${input.delta.toExponential()})`, anchor: 'start' },
    data: [
      { name: 'epsilon', values: series },
      { name: 'budget', values: [{ budget: input.budget, label: `budget ε = ${input.budget}` }] },
    ],
    scales: [
      { name: 'x', type: 'linear', domain: { data: 'epsilon', field: 'round' }, domainMin: 0, range: 'width', nice: true, zero: true },
      {
        name: 'y', type: 'linear', range: 'height', nice: true, zero: true,
        domain: { fields: [{ data: 'epsilon', field: 'epsilon' }, { data: 'budget', field: 'budget' }] },
      },
      { name: 'color', type: 'ordinal', domain: { data: 'epsilon', field: 'accountant', sort: true }, range: 'category' },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', title: 'round', tickMinStep: 1, grid: false },
      { orient: 'left', scale: 'y', title: 'epsilon', grid: true },
    ],
    legends: [{ stroke: 'color', title: 'accountant', orient: 'right', symbolType: 'stroke' }],
    marks: [
      {
        type: 'group',
        from: { facet: { name: 'series', data: 'epsilon', groupby: 'accountant' } },
        marks: [
          {
            type: 'line',
            name: 'epsilon-line',
            from: { data: 'series' },
            sort: { field: 'datum.round' },
            encode: {
              enter: {
                x: { scale: 'x', field: 'round' },
                y: { scale: 'y', field: 'epsilon' },
                stroke: { scale: 'color', field: 'accountant' },
                strokeWidth: { value: 2 },
              },
            },
          },
        ],
      },
      {
        type: 'rule',
        name: 'budget-line',
        from: { data: 'budget' },
        encode: {
          enter: {
            x: { value: 0 },
            x2: { signal: 'width' },
            y: { scale: 'y', field: 'budget' },
            stroke: { value: BUDGET_COLOUR },
            strokeWidth: { value: 2 },
            strokeDash: { value: [6, 4] },
          },
        },
      },
      {
        type: 'text',
        name: 'budget-label',
        from: { data: 'budget' },
        encode: {
          enter: {
            x: { value: 4 },
            y: { scale: 'y', field: 'budget', offset: -4 },
            text: { field: 'label' },
            fill: { value: BUDGET_COLOUR },
            fontSize: { value: 11 },
          },
        },
      },
    ],
  };
}

/** Render the plot to an SVG document string. */
export async function renderEpsilonPlot(input: EpsilonPlotInput): Promise<string> {
  let vega: typeof import('vega');
  try {
    vega = await import('vega');
  } catch (err) {
    throw asMissingDependency(err, 'the epsilon plot');
  }
  const view = new vega.View(vega.parse(epsilonPlotSpec(input) as unknown as Parameters<typeof vega.parse>[0]), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
