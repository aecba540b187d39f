/**
 * The client's own privacy ledger: it stops a client exactly when the next
 * participation would exceed its budget (expected stopping point computed
 * independently with the RDP accountant on k self-composed events), refuses
 * replays, survives reopening, and refuses a tampered, reordered or
 * truncated store. Errors are asserted by class, code and policy field.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile, appendFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { build } from 'esbuild';
import { deterministicRandom } from '../../src/crypto/random.js';
import { ed25519KeyPair, ed25519Sign } from '../../src/crypto/signatures.js';
import { planDistributedDp } from '../../src/dp/plan.js';
import { unamplifiedEvent } from '../../src/dp/plan-verify.js';
import { RdpAccountant } from '../../src/dp/rdp.js';
import { computeEpsilon } from '../../src/dp/accountant.js';
import { selfComposedEvent } from '../../src/dp/events.js';
import { bytesToLowerHex, canonicalJson } from '../../src/dp/ledger-format.js';
import {
  CLIENT_LEDGER_SIG_DOMAIN, ClientPrivacyLedger, memoryClientLedgerStore, type ClientLedgerOptions, type ClientLedgerStore, type ParticipationRequest,
} from '../../src/dp/client-ledger.js';
import { fileClientLedgerStore } from '../../src/dp/client-ledger-node.js';
import { indexedDbClientLedgerStore } from '../../src/dp/client-ledger-idb.js';
import { FedveilError, LedgerIntegrityError, PolicyViolation } from '../../src/errors.js';
import { thrown } from '../expect-error.js';

const key = ed25519KeyPair(deterministicRandom(1)).secretKey;
const otherKey = ed25519KeyPair(deterministicRandom(2)).secretKey;
const plan = planDistributedDp({ clipNorm: 1, noiseMultiplier: 1, expectedClients: 20, minClients: 10, colluders: 2, dim: 2000, bits: 20, samplingRate: 0.01 }, deterministicRandom(3));
const event = unamplifiedEvent(plan);
const DELTA = 1e-5;
const COORD = 'c0'.repeat(32);
const LARGE = { epsilon: 1e6, delta: DELTA };

const opts = (extra: Partial<ClientLedgerOptions> = {}): ClientLedgerOptions => ({ signingKey: key, budget: LARGE, ...extra });
const part = (round: number, extra: Partial<ParticipationRequest> = {}): ParticipationRequest => ({
  event, roundTag: new Uint8Array([round >> 8, round & 255, 0xab]), coordinator: COORD, round, ...extra,
});


async function rejected(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection, the promise resolved');
}

function expectViolation(e: unknown, field: string): void {
  expect(e).toBeInstanceOf(PolicyViolation);
  expect((e as PolicyViolation).code).toBe('POLICY_VIOLATION');
  expect((e as PolicyViolation).field).toBe(field);
}

function expectIntegrity(e: unknown, line?: number): void {
  expect(e).toBeInstanceOf(LedgerIntegrityError);
  expect((e as FedveilError).code).toBe('LEDGER_INTEGRITY');
  if (line !== undefined) expect((e as LedgerIntegrityError).line).toBe(line);
}

/** Epsilon of k participations, computed apart from the ledger: one self-composed event in a fresh accountant. */
const epsilonOf = (k: number): number => new RdpAccountant().compose(selfComposedEvent(event, k)).epsilon(DELTA);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedveil-client-ledger-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
let fileNo = 0;
const freshPath = (): string => join(dir, `ledger-${++fileNo}.jsonl`);

async function ledgerWith(n: number, store: ClientLedgerStore = memoryClientLedgerStore(), extra: Partial<ClientLedgerOptions> = {}): Promise<ClientPrivacyLedger> {
  const l = await ClientPrivacyLedger.open(store, opts(extra));
  for (let r = 1; r <= n; r++) await l.record(part(r));
  return l;
}

describe('budget', () => {
  test('a client stops exactly when the next participation would exceed its budget', async () => {
    const K = 5;
    expect(epsilonOf(K)).toBeLessThan(epsilonOf(K + 1));
    const budget = { epsilon: (epsilonOf(K) + epsilonOf(K + 1)) / 2, delta: DELTA };
    const ledger = await ClientPrivacyLedger.open(memoryClientLedgerStore(), opts({ budget }));
    let refused: unknown;
    let r = 1;
    for (; r <= 100; r++) {
      try {
        ledger.check(part(r));
      } catch (e) {
        refused = e;
        break;
      }
      await ledger.record(part(r));
    }
    expect(r).toBe(K + 1);
    expectViolation(refused, 'budget.epsilon');
    expect(ledger.privacySpent().participations).toBe(K);
    expect(ledger.privacySpent().epsilon).toBeCloseTo(epsilonOf(K), 6);
    // record() enforces it too, without a prior check()
    expectViolation(await rejected(ledger.record(part(K + 1))), 'budget.epsilon');
    expect(ledger.entries).toHaveLength(K);
  });

  test('privacySpent is the unamplified RDP composition, whatever sampling the plan claims', async () => {
    expect(plan.event.type).toBe('poisson_sampled');
    const ledger = await ClientPrivacyLedger.open(memoryClientLedgerStore(), opts());
    for (let r = 1; r <= 3; r++) await ledger.record(part(r, { event: plan.event }));
    const spent = ledger.privacySpent();
    expect(spent).toEqual({ epsilon: expect.any(Number), delta: DELTA, participations: 3, accountant: 'rdp' });
    expect(spent.epsilon).toBeCloseTo(epsilonOf(3), 6);
    const amplified = new RdpAccountant().compose(selfComposedEvent(plan.event, 3)).epsilon(DELTA);
    expect(spent.epsilon).toBeGreaterThan(5 * amplified);
    expect(ledger.entries.every((e) => e.event.type === 'discrete_gaussian')).toBe(true);
  });

  test('maxParticipations caps the count even with epsilon to spare', async () => {
    const ledger = await ledgerWith(3, memoryClientLedgerStore(), { maxParticipations: 3 });
    expectViolation(thrown(() => ledger.check(part(4))), 'budget.maxParticipations');
    expectViolation(await rejected(ledger.record(part(4))), 'budget.maxParticipations');
  });

  test('an epsilon budget of 0 refuses the first participation; an unbounded event counts as over', async () => {
    const zero = await ClientPrivacyLedger.open(memoryClientLedgerStore(), opts({ budget: { epsilon: 0, delta: DELTA } }));
    expectViolation(thrown(() => zero.check(part(1))), 'budget.epsilon');
    const big = await ClientPrivacyLedger.open(memoryClientLedgerStore(), opts());
    expectViolation(thrown(() => big.check(part(1, { event: { ...event, sigma: 0.1 } as typeof event }))), 'budget.epsilon');
  });

  test('concurrent records are serialised: with room for one, exactly one succeeds', async () => {
    const budget = { epsilon: (epsilonOf(1) + epsilonOf(2)) / 2, delta: DELTA };
    const ledger = await ClientPrivacyLedger.open(memoryClientLedgerStore(), opts({ budget }));
    const results = await Promise.allSettled([ledger.record(part(1)), ledger.record(part(2))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expectViolation((results[1] as PromiseRejectedResult).reason, 'budget.epsilon');
  });
});

describe('replay', () => {
  test('a round tag already recorded is refused, in any hex spelling and under any coordinator', async () => {
    const ledger = await ledgerWith(2);
    const tag = bytesToLowerHex(part(2).roundTag as Uint8Array);
    expect(tag.toUpperCase()).not.toBe(tag);
    expectViolation(thrown(() => ledger.check(part(3, { roundTag: tag }))), 'replay');
    expectViolation(thrown(() => ledger.check(part(3, { roundTag: tag.toUpperCase() }))), 'replay');
    expectViolation(thrown(() => ledger.check(part(1, { roundTag: tag, coordinator: 'ab' }))), 'replay');
    expectViolation(await rejected(ledger.record(part(3, { roundTag: tag }))), 'replay');
  });

  test('a round number not above the last one for that coordinator is refused; another coordinator has its own sequence', async () => {
    const ledger = await ledgerWith(5);
    expectViolation(thrown(() => ledger.check(part(5, { roundTag: 'ff01' }))), 'replay');
    expectViolation(thrown(() => ledger.check(part(3, { roundTag: 'ff02' }))), 'replay');
    expect(() => ledger.check(part(6, { roundTag: 'ff03' }))).not.toThrow();
    expect(() => ledger.check(part(1, { roundTag: 'ff04', coordinator: 'ab'.repeat(32) }))).not.toThrow();
  });

  test('replays stay refused after reopening', async () => {
    const path = freshPath();
    await ledgerWith(3, fileClientLedgerStore(path));
    const again = await ClientPrivacyLedger.open(fileClientLedgerStore(path), opts());
    expectViolation(thrown(() => again.check(part(3))), 'replay');
    expectViolation(thrown(() => again.check(part(4, { roundTag: part(1).roundTag }))), 'replay');
  });
});

describe('file store', () => {
  test('reopening continues the chain and the spent epsilon', async () => {
    const path = freshPath();
    const first = await ledgerWith(3, fileClientLedgerStore(path));
    const spent = first.privacySpent();
    const second = await ClientPrivacyLedger.open(fileClientLedgerStore(path), opts());
    expect(second.privacySpent()).toEqual(spent);
    expect(second.head).toEqual(first.head);
    await second.record(part(4));
    const third = await ClientPrivacyLedger.open(fileClientLedgerStore(path), opts());
    expect(third.privacySpent().participations).toBe(4);
    expect(third.privacySpent().epsilon).toBeCloseTo(epsilonOf(4), 6);
    expect((await readFile(path, 'utf8')).split('\n')).toHaveLength(5); // 4 lines + final newline
  });

  async function corrupted(edit: (lines: string[]) => string[] | string, n = 3): Promise<unknown> {
    const path = freshPath();
    await ledgerWith(n, fileClientLedgerStore(path));
    const lines = (await readFile(path, 'utf8')).slice(0, -1).split('\n');
    const out = edit(lines);
    await writeFile(path, typeof out === 'string' ? out : out.join('\n') + '\n');
    return rejected(ClientPrivacyLedger.open(fileClientLedgerStore(path), opts()));
  }

  test('a changed event value in a line is refused at that line', async () => {
    const e = await corrupted((l) => [l[0]!, l[1]!.replace(/"sigma":(\d)/, (_m, d: string) => `"sigma":${(Number(d) + 1) % 10}`), l[2]!]);
    expectIntegrity(e, 2);
  });

  test('reordered lines are refused', async () => {
    expectIntegrity(await corrupted((l) => [l[1]!, l[0]!, l[2]!]), 1);
  });

  test('a line removed from the middle is refused', async () => {
    expectIntegrity(await corrupted((l) => [l[0]!, l[2]!]), 2);
  });

  test('whole lines removed from the end are refused (the signed head record says how many there were)', async () => {
    expectIntegrity(await corrupted((l) => l.slice(0, 2)));
    expectIntegrity(await corrupted(() => ''));
  });

  test('a line cut in the middle (torn) is refused, even with truncateTornTail when it was a completed record', async () => {
    const path = freshPath();
    await ledgerWith(3, fileClientLedgerStore(path));
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.slice(0, text.length - 40));
    expectIntegrity(await rejected(ClientPrivacyLedger.open(fileClientLedgerStore(path), opts())));
    expectIntegrity(await rejected(ClientPrivacyLedger.open(fileClientLedgerStore(path, { truncateTornTail: true }), opts())));
  });

  test('the tail of an interrupted (never completed) record is refused by default and dropped with truncateTornTail', async () => {
    const path = freshPath();
    await ledgerWith(2, fileClientLedgerStore(path));
    await appendFile(path, '{"coordinator":"c0c0');
    expectIntegrity(await rejected(ClientPrivacyLedger.open(fileClientLedgerStore(path), opts())));
    const repaired = await ClientPrivacyLedger.open(fileClientLedgerStore(path, { truncateTornTail: true }), opts());
    expect(repaired.privacySpent().participations).toBe(2);
    await repaired.record(part(3));
    expect((await ClientPrivacyLedger.open(fileClientLedgerStore(path), opts())).privacySpent().participations).toBe(3);
  });

  test('a head record that lags the lines (a crash between append and head update) is accepted; one of another chain is not', async () => {
    const path = freshPath();
    const l = await ledgerWith(2, fileClientLedgerStore(path));
    const lagging = await readFile(`${path}.head`);
    await l.record(part(3));
    await writeFile(`${path}.head`, lagging);
    expect((await ClientPrivacyLedger.open(fileClientLedgerStore(path), opts())).privacySpent().participations).toBe(3);
    const other = freshPath();
    const lo = await ClientPrivacyLedger.open(fileClientLedgerStore(other), opts());
    for (let r = 1; r <= 2; r++) await lo.record(part(r, { coordinator: 'ab' }));
    await writeFile(`${path}.head`, await readFile(`${other}.head`));
    expectIntegrity(await rejected(ClientPrivacyLedger.open(fileClientLedgerStore(path), opts())));
  });

  test('without its head record, a truncated file is still caught by expectHead', async () => {
    const path = freshPath();
    const l = await ledgerWith(3, fileClientLedgerStore(path));
    const head = l.head;
    const lines = (await readFile(path, 'utf8')).split('\n');
    await writeFile(path, lines.slice(0, 2).join('\n') + '\n');
    await unlink(`${path}.head`);
    expectIntegrity(await rejected(ClientPrivacyLedger.open(fileClientLedgerStore(path), opts({ expectHead: head }))));
  });

  test('a line from another ledger of the same client (same key, same position) is refused: the hash chain', async () => {
    const a = memoryClientLedgerStore();
    const b = memoryClientLedgerStore();
    await ledgerWith(3, a);
    const lb = await ClientPrivacyLedger.open(b, opts());
    for (let r = 1; r <= 3; r++) await lb.record(part(r, { coordinator: 'ab'.repeat(32), roundTag: `0${r}` }));
    const spliced = [a.lines[0]!, b.lines[1]!, a.lines[2]!];
    expectIntegrity(await rejected(ClientPrivacyLedger.open(memoryClientLedgerStore({ lines: spliced }), opts())), 2);
  });

  test('non-canonical bytes, an empty line, invalid UTF-8 and another client\'s ledger are refused', async () => {
    expectIntegrity(await corrupted((l) => [l[0]!, JSON.stringify(JSON.parse(l[1]!), null, 1).replace(/\n/g, ''), l[2]!]), 2);
    expectIntegrity(await corrupted((l) => [l[0]!, '', l[1]!, l[2]!]), 2);
    const path = freshPath();
    await ledgerWith(1, fileClientLedgerStore(path));
    const bytes = new Uint8Array(await readFile(path));
    bytes[5] = 0xff;
    await writeFile(path, bytes);
    expectIntegrity(await rejected(ClientPrivacyLedger.open(fileClientLedgerStore(path), opts())));
    const mine = freshPath();
    await ledgerWith(2, fileClientLedgerStore(mine));
    expectIntegrity(await rejected(ClientPrivacyLedger.open(fileClientLedgerStore(mine), opts({ signingKey: otherKey }))), 1);
  });

  test('a second writer (the file grew behind the store) makes record() fail, and the ledger refuses until reopened', async () => {
    const path = freshPath();
    const a = await ledgerWith(1, fileClientLedgerStore(path));
    const b = await ClientPrivacyLedger.open(fileClientLedgerStore(path), opts());
    await b.record(part(2));
    expectIntegrity(await rejected(a.record(part(3))));
    expectIntegrity(thrown(() => a.check(part(4))));
    expect((await ClientPrivacyLedger.open(fileClientLedgerStore(path), opts())).privacySpent().participations).toBe(2);
  });
});

describe('memory store and the recording contract', () => {
  test('record() resolves only after the store has durably appended the line', async () => {
    let release!: () => void;
    const inner = memoryClientLedgerStore();
    const store: ClientLedgerStore = { load: inner.load, append: (line) => new Promise((res) => { release = () => void inner.append(line).then(res); }) };
    const ledger = await ClientPrivacyLedger.open(store, opts());
    let done = false;
    const p = ledger.record(part(1)).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false);
    expect(ledger.privacySpent().participations).toBe(0);
    release();
    await p;
    expect(done).toBe(true);
    expect(inner.lines).toHaveLength(1);
  });

  test('a failed append rejects record(), counts nothing, and the ledger refuses until reopened', async () => {
    const store: ClientLedgerStore = { load: async () => [], append: async () => { throw new Error('disk full'); } };
    const ledger = await ClientPrivacyLedger.open(store, opts());
    await expect(ledger.record(part(1))).rejects.toThrow('disk full');
    expect(ledger.privacySpent().participations).toBe(0);
    expectIntegrity(thrown(() => ledger.check(part(2))));
  });

  test('a recorded line that claims sampling amplification is refused, even when signed by the client', async () => {
    const store = memoryClientLedgerStore();
    await ledgerWith(1, store);
    const { sig, ...rest } = JSON.parse(store.lines[0]!) as Record<string, unknown>;
    void sig;
    const forged = { ...rest, event: { type: 'poisson_sampled', samplingProbability: 1e-6, event: rest.event } };
    const signed = canonicalJson({ ...forged, sig: bytesToLowerHex(ed25519Sign(key, new TextEncoder().encode(CLIENT_LEDGER_SIG_DOMAIN + canonicalJson(forged)))) });
    expectIntegrity(await rejected(ClientPrivacyLedger.open(memoryClientLedgerStore({ lines: [signed] }), opts())), 1);
    // the untouched line opens (the refusal above is about the event, not the re-signing)
    expect((await ClientPrivacyLedger.open(memoryClientLedgerStore({ lines: store.lines }), opts())).privacySpent().participations).toBe(1);
  });

  test('every line verifies with the ledger\'s public key and epsilon matches computeEpsilon for one participation', async () => {
    const ledger = await ledgerWith(1);
    expect(ledger.publicKey).toHaveLength(32);
    expect(ledger.privacySpent().epsilon).toBeCloseTo(computeEpsilon(event, DELTA).epsilon, 9);
  });
});

describe('IndexedDB store (fake-indexeddb)', () => {
  test('records, reopens and continues', async () => {
    const indexedDB = new IDBFactory();
    await ledgerWith(2, indexedDbClientLedgerStore('client-a', { indexedDB }));
    const again = await ClientPrivacyLedger.open(indexedDbClientLedgerStore('client-a', { indexedDB }), opts());
    expect(again.privacySpent().participations).toBe(2);
    await again.record(part(3));
    const third = await ClientPrivacyLedger.open(indexedDbClientLedgerStore('client-a', { indexedDB }), opts());
    expect(third.privacySpent().epsilon).toBeCloseTo(epsilonOf(3), 6);
    expectViolation(thrown(() => third.check(part(3))), 'replay');
  });

  async function rawEdit(indexedDB: IDBFactory, name: string, edit: (s: IDBObjectStore) => void): Promise<void> {
    const db = await new Promise<IDBDatabase>((res, rej) => {
      const r = indexedDB.open(name, 1);
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    await new Promise<void>((res, rej) => {
      const tx = db.transaction('lines', 'readwrite');
      edit(tx.objectStore('lines'));
      tx.oncomplete = () => res();
      tx.onerror = () => rej(tx.error);
    });
    db.close();
  }

  test('a tampered, a deleted and a dropped-from-the-end record are refused', async () => {
    const indexedDB = new IDBFactory();
    await ledgerWith(3, indexedDbClientLedgerStore('t', { indexedDB }));
    await ledgerWith(3, indexedDbClientLedgerStore('d', { indexedDB }));
    await ledgerWith(3, indexedDbClientLedgerStore('e', { indexedDB }));
    const lines = (await indexedDbClientLedgerStore('t', { indexedDB }).load());
    await rawEdit(indexedDB, 't', (s) => s.put(lines[1]!.replace('"round":2', '"round":9'), 2));
    await rawEdit(indexedDB, 'd', (s) => s.delete(2));
    await rawEdit(indexedDB, 'e', (s) => s.delete(3));
    expectIntegrity(await rejected(ClientPrivacyLedger.open(indexedDbClientLedgerStore('t', { indexedDB }), opts())), 2);
    expectIntegrity(await rejected(ClientPrivacyLedger.open(indexedDbClientLedgerStore('d', { indexedDB }), opts())));
    expectIntegrity(await rejected(ClientPrivacyLedger.open(indexedDbClientLedgerStore('e', { indexedDB }), opts())));
  });

  test('a second writer cannot overwrite: its record() fails', async () => {
    const indexedDB = new IDBFactory();
    const a = await ledgerWith(1, indexedDbClientLedgerStore('w', { indexedDB }));
    const b = await ClientPrivacyLedger.open(indexedDbClientLedgerStore('w', { indexedDB }), opts());
    await b.record(part(2));
    expectIntegrity(await rejected(a.record(part(3, { roundTag: 'ee' }))));
    expect((await ClientPrivacyLedger.open(indexedDbClientLedgerStore('w', { indexedDB }), opts())).privacySpent().participations).toBe(2);
  });
});

describe('browser safety', () => {
  /** Bundle `entry` for the browser; resolves to the node: imports esbuild met (none for a browser-safe module). */
  async function nodeImports(entry: string): Promise<string[]> {
    const found: string[] = [];
    await build({
      entryPoints: [entry], bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent',
      plugins: [{ name: 'record-node', setup(b) { b.onResolve({ filter: /^node:/ }, (a) => { found.push(a.path); return { path: a.path, external: true }; }); } }],
    });
    return found;
  }

  test('the ledger, the IndexedDB store and verifyPlan bundle without any node: import; the file store is the Node-only module', async () => {
    for (const entry of ['src/dp/client-ledger.ts', 'src/dp/client-ledger-idb.ts', 'src/dp/plan-verify.ts']) expect(await nodeImports(entry)).toEqual([]);
    expect(await nodeImports('src/dp/client-ledger-node.ts')).toContain('node:fs/promises');
  });
});
