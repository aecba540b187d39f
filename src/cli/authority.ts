/**
 * `fedveil authority init | issue | revoke | show`: the enrolment authority's
 * offline key and the certificates and revocation lists it signs
 * (crypto/certificate.ts). The key file never needs to be on a coordinator
 * machine: a coordinator holding it could certify sybils of its own.
 *
 * Files (JSON):
 *   authority key   { "kind": "fedveil-authority-key", "secretKey": hex, "publicKey": hex }   (mode 0600)
 *   certificate     { "kind": "fedveil-certificate", "certificate": hex, "subject": hex,
 *                     "serial": n, "notBefore": s, "notAfter": s, "authority": hex }
 *   revocations     { "kind": "fedveil-revocations", "authority": hex, "issuedAt": s,
 *                     "serials": [n...], "signature": hex }
 */
import { promises as fs, existsSync } from 'node:fs';
import type { Command } from 'commander';
import { CliExit, parseInteger, printJson } from './common.js';
import { ed25519KeyPair, ed25519PublicKey } from '../crypto/signatures.js';
import { encodeCertificate, issueCertificate, signRevocationList, verifyRevocationList } from '../crypto/certificate.js';

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function fromHex(what: string, s: unknown, length: number): Uint8Array {
  if (typeof s !== 'string' || !/^[0-9a-fA-F]*$/.test(s) || s.length !== 2 * length) throw new CliExit(2, `authority: ${what} must be ${length} bytes of hex`);
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

async function readJson(what: string, file: string): Promise<Record<string, unknown>> {
  let v: unknown;
  try {
    v = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new CliExit(1, `authority: cannot read ${what} ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CliExit(1, `authority: ${what} ${file} is not a JSON object`);
  return v as Record<string, unknown>;
}

async function loadAuthority(file: string): Promise<{ secretKey: Uint8Array; publicKey: Uint8Array }> {
  const o = await readJson('key', file);
  if (o.kind !== 'fedveil-authority-key') throw new CliExit(1, `authority: ${file} is not a fedveil authority key`);
  const secretKey = fromHex('secretKey', o.secretKey, 32);
  const publicKey = ed25519PublicKey(secretKey);
  if (hex(publicKey) !== String(o.publicKey).toLowerCase()) throw new CliExit(1, `authority: ${file}: publicKey does not match secretKey`);
  return { secretKey, publicKey };
}

/** Write a new file (never overwrite), mode 0600 for secrets. */
async function writeNew(file: string, body: unknown, mode = 0o644): Promise<void> {
  try {
    await fs.writeFile(file, JSON.stringify(body, null, 2) + '\n', { flag: 'wx', mode });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliExit(1, `authority: cannot create ${file}${code === 'EEXIST' ? ': it exists (choose another path; nothing was overwritten)' : `: ${err instanceof Error ? err.message : String(err)}`}`);
  }
}

const now = (): number => Math.floor(Date.now() / 1000);

export function register(program: Command): void {
  const authority = program.command('authority').description('enrolment authority: create its offline key, certify client keys, revoke certificates');
  authority
    .command('init')
    .description('create an authority key file (mode 0600); prints its public key, which clients pin in their policy')
    .requiredOption('--out <file>', 'key file to create (never overwritten)')
    .option('--json', 'print one JSON object')
    .action(async (opts: { out: string; json?: boolean }) => {
      const kp = ed25519KeyPair();
      await writeNew(opts.out, { kind: 'fedveil-authority-key', secretKey: hex(kp.secretKey), publicKey: hex(kp.publicKey) }, 0o600);
      if (opts.json) printJson({ publicKey: hex(kp.publicKey), file: opts.out });
      else process.stdout.write(`${hex(kp.publicKey)}\n`);
    });
  authority
    .command('issue')
    .description('certify a client public key (from `fedveil join --print-key`)')
    .requiredOption('--key <file>', 'authority key file')
    .requiredOption('--subject <hex>', 'the client Ed25519 public key to certify')
    .requiredOption('--serial <n>', 'serial number (unique per authority; used for revocation)', parseInteger)
    .option('--days <n>', 'validity from now', parseInteger, 365)
    .requiredOption('--out <file>', 'certificate file to create')
    .option('--json', 'print one JSON object')
    .action(async (opts: { key: string; subject: string; serial: number; days: number; out: string; json?: boolean }) => {
      if (opts.serial < 0) throw new CliExit(2, 'authority issue: --serial must be >= 0');
      if (opts.days < 1) throw new CliExit(2, 'authority issue: --days must be >= 1');
      const subject = fromHex('--subject', opts.subject, 32);
      const { secretKey } = await loadAuthority(opts.key);
      const notBefore = now() - 300; // small allowance for clock skew
      const cert = issueCertificate(secretKey, { subject, serial: opts.serial, notBefore, notAfter: notBefore + opts.days * 86400 });
      const body = { kind: 'fedveil-certificate', certificate: hex(encodeCertificate(cert)), subject: hex(cert.subject), serial: cert.serial, notBefore: cert.notBefore, notAfter: cert.notAfter, authority: hex(cert.authority) };
      await writeNew(opts.out, body);
      if (opts.json) printJson(body);
      else process.stdout.write(`certified ${opts.subject.slice(0, 16)}... serial ${cert.serial} until ${new Date(cert.notAfter * 1000).toISOString()}: ${opts.out}\n`);
    });
  authority
    .command('revoke')
    .description('add serials to the authority\'s signed revocation list (created if missing); give the list to clients (policy revocations) and to the coordinator')
    .requiredOption('--key <file>', 'authority key file')
    .requiredOption('--serial <n...>', 'serial(s) to revoke')
    .requiredOption('--list <file>', 'revocation list file (updated in place, atomically)')
    .option('--json', 'print one JSON object')
    .action(async (opts: { key: string; serial: string[]; list: string; json?: boolean }) => {
      const { secretKey, publicKey } = await loadAuthority(opts.key);
      const add = opts.serial.map((s) => {
        const v = Number(s);
        if (!Number.isSafeInteger(v) || v < 0) throw new CliExit(2, `authority revoke: --serial expects integers >= 0, got ${s}`);
        return v;
      });
      let serials: number[] = [];
      if (existsSync(opts.list)) {
        const o = await readJson('revocation list', opts.list);
        const prev = { authority: fromHex('authority', o.authority, 32), issuedAt: Number(o.issuedAt), serials: o.serials as number[], signature: fromHex('signature', o.signature, 64) };
        if (!verifyRevocationList(prev) || hex(prev.authority) !== hex(publicKey)) throw new CliExit(1, `authority revoke: ${opts.list} is not a valid revocation list of this authority`);
        serials = prev.serials.slice();
      }
      const list = signRevocationList(secretKey, { issuedAt: now(), serials: [...serials, ...add] });
      const body = { kind: 'fedveil-revocations', authority: hex(list.authority), issuedAt: list.issuedAt, serials: list.serials, signature: hex(list.signature) };
      const tmp = `${opts.list}.tmp-${process.pid}`;
      await fs.writeFile(tmp, JSON.stringify(body, null, 2) + '\n');
      await fs.rename(tmp, opts.list);
      if (opts.json) printJson(body);
      else process.stdout.write(`${opts.list}: ${list.serials.length} revoked serial(s)\n`);
    });
}
