/**
 * `fedveil params --clients N --dropout p --corrupt g
 *   [--adversary semi-honest|semi-malicious] [--security 40] [--correctness 20] [--json]`
 * (docs/cli.md): the SecAgg+ neighbour graph for N clients (Bell et
 * al. 2020, calibrated like Google's production finder). `--json` prints
 * `{"degree","threshold","graph"}` and nothing else.
 */
import { Option, type Command } from 'commander';
import { findSecAggPlusParams } from '../secagg/params.js';
import { parseNumber, parsePositiveInteger, parseProbability, printJson, parseDropout } from './common.js';

export function register(program: Command): void {
  program
    .command('params')
    .description('choose the SecAgg+ graph degree k and Shamir threshold t for N clients')
    .requiredOption('--clients <N>', 'number of clients in the round', parsePositiveInteger)
    .requiredOption('--dropout <p>', 'fraction of clients that may drop out, in [0, 1)', parseDropout)
    .requiredOption('--corrupt <g>', 'fraction of clients that may collude with the server', parseProbability)
    .addOption(new Option('--adversary <class>', 'server adversary class').choices(['semi-honest', 'semi-malicious']).default('semi-honest'))
    .option('--security <sigma>', 'statistical security parameter (bits)', parseNumber, 40)
    .option('--correctness <eta>', 'correctness parameter: failure probability < 2^-eta', parseNumber, 20)
    .option('--json', 'print one JSON object')
    .action((o: { clients: number; dropout: number; corrupt: number; adversary: 'semi-honest' | 'semi-malicious'; security: number; correctness: number; json?: boolean }) => {
      const p = findSecAggPlusParams({
        clients: o.clients, dropout: o.dropout, corrupt: o.corrupt, adversary: o.adversary,
        securityParameter: o.security, correctnessParameter: o.correctness,
      });
      if (o.json) {
        printJson({ degree: p.degree, threshold: p.threshold, graph: p.graph });
        return;
      }
      process.stdout.write(
        `graph: ${p.graph}\ndegree k: ${p.degree}\nthreshold t: ${p.threshold}\n` +
        `(n=${o.clients}, dropout=${o.dropout}, corrupt=${o.corrupt}, ${o.adversary}, sigma=${o.security}, eta=${o.correctness})\n`,
      );
    });
}
