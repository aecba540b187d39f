/**
 * Access to Node's native `node:crypto` (OpenSSL) without a static import,
 * so that the crypto layer still loads in browsers and bundlers.
 *
 * `process.getBuiltinModule` exists from Node 20.16 / 22.3. Where it is
 * missing (browsers, older Node) this returns undefined and callers fall
 * back to WebCrypto or the portable noble implementations, which produce the
 * same bytes (tests prove it).
 */
import type * as NodeCrypto from 'node:crypto';

let cached: typeof NodeCrypto | null | undefined;

/** The `node:crypto` module when running on Node, else undefined. */
export function nodeCrypto(): typeof NodeCrypto | undefined {
  if (cached === undefined) {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    const mod = typeof proc?.getBuiltinModule === 'function' ? proc.getBuiltinModule('node:crypto') : undefined;
    cached = mod !== undefined && mod !== null ? (mod as typeof NodeCrypto) : null;
  }
  return cached ?? undefined;
}
