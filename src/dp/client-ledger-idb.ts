/**
 * An IndexedDB-backed {@link ClientLedgerStore} for browser clients: the
 * lines of the client privacy ledger (client-ledger.ts) in the object store
 * `lines` of database `name`, keyed 1, 2, 3, ..., and its signed head record
 * under the key `head` of the object store `meta`.
 *
 * Durability: every write is its own readwrite transaction opened with
 * `durability: 'strict'` (W3C IndexedDB 3.0: the transaction completes only
 * once the data is flushed to durable storage), and `append` resolves on the
 * transaction's `complete` event. A line is added with `add` under the next
 * key, so a second writer (another tab) makes the add fail instead of
 * overwriting. `load` refuses keys that are not exactly 1..n (a deleted or
 * inserted record) and values that are not strings.
 *
 * Assumptions: the origin's storage is not evicted (call
 * `navigator.storage.persist()`); one writer per database. Imports no Node
 * built-in. The IDBFactory is `globalThis.indexedDB` unless given.
 */
import { InvalidArgument, LedgerIntegrityError } from '../errors.js';
import type { ClientLedgerStore } from './client-ledger.js';

export interface IndexedDbClientLedgerStoreOptions {
  /** The IndexedDB implementation (default globalThis.indexedDB). */
  indexedDB?: IDBFactory;
}

const LINES = 'lines';
const META = 'meta';
const DB_VERSION = 1;

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

/** The client ledger in the IndexedDB database `name` (created on first use). */
export function indexedDbClientLedgerStore(name: string, options: IndexedDbClientLedgerStoreOptions = {}): ClientLedgerStore {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgument('name: expected a database name');
  let dbp: Promise<IDBDatabase> | undefined;
  let count: number | undefined;

  const db = (): Promise<IDBDatabase> => {
    dbp ??= new Promise<IDBDatabase>((resolve, reject) => {
      const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
      if (factory === undefined) {
        reject(new InvalidArgument('IndexedDB is not available here; pass options.indexedDB'));
        return;
      }
      const open = factory.open(name, DB_VERSION);
      open.onupgradeneeded = () => {
        const d = open.result;
        if (!d.objectStoreNames.contains(LINES)) d.createObjectStore(LINES);
        if (!d.objectStoreNames.contains(META)) d.createObjectStore(META);
      };
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error ?? new Error('IndexedDB open failed'));
    });
    return dbp;
  };

  const load = async (): Promise<string[]> => {
    const d = await db();
    const tx = d.transaction(LINES, 'readonly');
    const finished = done(tx);
    const store = tx.objectStore(LINES);
    const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll()), finished]);
    keys.forEach((k, i) => {
      if (k !== i + 1) throw new LedgerIntegrityError(`record key ${String(k)} where ${i + 1} was expected (a record was removed or inserted)`, i + 1);
    });
    values.forEach((v, i) => {
      if (typeof v !== 'string') throw new LedgerIntegrityError('record is not a string', i + 1);
    });
    count = values.length;
    return values as string[];
  };

  const write = async (storeName: string, op: (s: IDBObjectStore) => IDBRequest): Promise<void> => {
    const d = await db();
    const tx = d.transaction(storeName, 'readwrite', { durability: 'strict' });
    const finished = done(tx);
    const req = op(tx.objectStore(storeName));
    try {
      await Promise.all([request(req), finished]);
    } catch (err) {
      if ((err as { name?: unknown }).name === 'ConstraintError') {
        throw new LedgerIntegrityError('the database changed under this store (another writer); reopen it', undefined, { cause: err });
      }
      throw err;
    }
  };

  return {
    load,
    async append(line: string): Promise<void> {
      if (typeof line !== 'string' || line.length === 0 || line.includes('\n')) throw new InvalidArgument('append: expected one non-empty line');
      if (count === undefined) await load();
      const key = count! + 1;
      await write(LINES, (s) => s.add(line, key));
      count = key;
    },
    async loadHead(): Promise<string | undefined> {
      const d = await db();
      const tx = d.transaction(META, 'readonly');
      const finished = done(tx);
      const [v] = await Promise.all([request(tx.objectStore(META).get('head')), finished]);
      if (v !== undefined && typeof v !== 'string') throw new LedgerIntegrityError('head record is not a string');
      return v as string | undefined;
    },
    async saveHead(head: string): Promise<void> {
      if (typeof head !== 'string' || head.includes('\n')) throw new InvalidArgument('saveHead: expected one line');
      await write(META, (s) => s.put(head, 'head'));
    },
  };
}
