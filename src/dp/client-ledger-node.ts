/**
 * A file-backed {@link ClientLedgerStore} for Node clients: the lines of the
 * client privacy ledger (client-ledger.ts) as UTF-8 JSON Lines in `path`,
 * and its signed head record in `path + '.head'`.
 *
 * Durability: each line is written with one append and fsync'd before
 * `append` resolves (a new file's directory is fsync'd too); the head is
 * written to a temporary file, fsync'd and renamed over the old one, so it
 * is always a whole record. A crash can leave at most one unterminated last
 * line, and only of a record() that had not resolved, i.e. of a masked input
 * that was never sent: such a torn file is refused (LedgerIntegrityError)
 * unless `truncateTornTail` is set, which drops exactly that tail.
 *
 * Assumptions: one writer per file (a size this store did not write is
 * refused); a POSIX-like filesystem where fsync makes written bytes durable.
 * `node:fs` is imported lazily, so that importing the dp layer in a browser
 * does not pull it in.
 */
import { InvalidArgument, LedgerIntegrityError } from '../errors.js';
import { syncDir } from '../util/fs-sync.js';
import type { ClientLedgerStore } from './client-ledger.js';

async function fsp(): Promise<typeof import('node:fs/promises')> {
  return import('node:fs/promises');
}

export interface FileClientLedgerStoreOptions {
  /** Drop an unterminated last line (an interrupted, hence unsent, record) instead of refusing the file. */
  truncateTornTail?: boolean;
}

function isEnoent(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT';
}


async function writeAll(handle: import('node:fs/promises').FileHandle, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, off, bytes.length - off);
    off += bytesWritten;
  }
}

/** The client ledger in the file `path` (created on the first record). */
export function fileClientLedgerStore(path: string, options: FileClientLedgerStoreOptions = {}): ClientLedgerStore {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgument('path: expected a file path');
  const headPath = `${path}.head`;
  let size: number | undefined;

  const load = async (): Promise<string[]> => {
    const fs = await fsp();
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await fs.readFile(path));
    } catch (err) {
      if (!isEnoent(err)) throw err;
      size = 0;
      return [];
    }
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] !== 0x0a) {
      const cut = bytes.lastIndexOf(0x0a) + 1;
      if (!options.truncateTornTail) {
        throw new LedgerIntegrityError(`unterminated last line (${end - cut} bytes at offset ${cut}): an interrupted record; open with truncateTornTail to drop it`);
      }
      const h = await fs.open(path, 'r+');
      try {
        await h.truncate(cut);
        await h.sync();
      } finally {
        await h.close();
      }
      end = cut;
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, end));
    } catch (err) {
      throw new LedgerIntegrityError('not UTF-8', undefined, { cause: err });
    }
    size = end;
    if (text.length === 0) return [];
    const lines = text.slice(0, -1).split('\n');
    const empty = lines.findIndex((l) => l.length === 0);
    if (empty >= 0) throw new LedgerIntegrityError('empty line', empty + 1);
    return lines;
  };

  return {
    load,
    async append(line: string): Promise<void> {
      if (typeof line !== 'string' || line.length === 0 || line.includes('\n')) throw new InvalidArgument('append: expected one non-empty line');
      if (size === undefined) await load();
      const fs = await fsp();
      const created = size === 0;
      const handle = await fs.open(path, 'a');
      try {
        const { size: now } = await handle.stat();
        if (now !== size) throw new LedgerIntegrityError(`the file changed under this store (size ${now}, expected ${size}): another writer or a partial write; reopen it`);
        const bytes = new TextEncoder().encode(line + '\n');
        await writeAll(handle, bytes);
        await handle.sync();
        size = now + bytes.length;
      } finally {
        await handle.close();
      }
      if (created) await syncDir(path);
    },
    async loadHead(): Promise<string | undefined> {
      const fs = await fsp();
      try {
        const text = await fs.readFile(headPath, 'utf8');
        if (!text.endsWith('\n')) throw new LedgerIntegrityError('head record: unterminated');
        return text.slice(0, -1);
      } catch (err) {
        if (isEnoent(err)) return undefined;
        throw err;
      }
    },
    async saveHead(head: string): Promise<void> {
      if (typeof head !== 'string' || head.includes('\n')) throw new InvalidArgument('saveHead: expected one line');
      const fs = await fsp();
      const tmp = `${headPath}.tmp`;
      const handle = await fs.open(tmp, 'w');
      try {
        await writeAll(handle, new TextEncoder().encode(head + '\n'));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, headPath);
      await syncDir(headPath);
    },
  };
}
