/**
 * Node side of the client: `ws` as the WebSocket implementation (with TLS
 * options such as a private CA), and Ed25519 identity files.
 *
 * Identity file format (JSON): `{ "publicKey": hex, "secretKey": hex }`,
 * written with mode 0600. Enrolled-keys file: JSON array of hex public keys
 * (or `{ "keys": [...] }`).
 */
import { promises as fs } from 'node:fs';
import WebSocket from 'ws';
import { InvalidArgument } from '../errors.js';
import { ed25519KeyPair, ed25519PublicKey } from '../crypto/index.js';
import type { Connector } from './channel.js';
import { fromHex, hex, type Identity } from './session.js';
import { webSocketConnector, type WebSocketLike } from './ws-client.js';

export interface NodeConnectOptions {
  /** Extra CA certificates (PEM) to trust for wss://. */
  ca?: string | Buffer;
  /** Largest message accepted from the coordinator (default 256 MiB). */
  maxPayload?: number;
}

export function nodeConnector(url: string, opts: NodeConnectOptions = {}): Connector {
  return webSocketConnector(url, (u) => new WebSocket(u, { maxPayload: opts.maxPayload ?? 256 * 1024 * 1024, perMessageDeflate: false, ...(opts.ca ? { ca: opts.ca } : {}) }) as unknown as WebSocketLike);
}

/** Load an identity file, or create one (0600) when it does not exist. */
export async function loadOrCreateIdentity(file: string): Promise<Identity> {
  let text: string | undefined;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text === undefined) {
    const kp = ed25519KeyPair();
    await fs.writeFile(file, JSON.stringify({ publicKey: hex(kp.publicKey), secretKey: hex(kp.secretKey) }) + '\n', { mode: 0o600, flag: 'wx' });
    return kp;
  }
  return parseIdentity(text, file);
}

export function parseIdentity(text: string, source = 'identity'): Identity {
  let obj: { secretKey?: unknown };
  try {
    obj = JSON.parse(text) as { secretKey?: unknown };
  } catch {
    throw new InvalidArgument(`${source}: not JSON`);
  }
  if (typeof obj.secretKey !== 'string' || !/^[0-9a-f]{64}$/i.test(obj.secretKey)) throw new InvalidArgument(`${source}: secretKey must be 64 hex characters`);
  const secretKey = fromHex(obj.secretKey);
  return { secretKey, publicKey: ed25519PublicKey(secretKey) };
}

/** Read an enrolled-keys file: a JSON array of hex Ed25519 public keys, or `{ keys: [...] }`. */
export async function loadEnrolledKeys(file: string): Promise<Set<string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new InvalidArgument(`${file}: cannot read enrolled keys (${err instanceof Error ? err.message : String(err)})`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(list)) throw new InvalidArgument(`${file}: expected a JSON array of hex public keys`);
  const out = new Set<string>();
  list.forEach((k, i) => {
    if (typeof k !== 'string' || !/^[0-9a-fA-F]{64}$/.test(k)) throw new InvalidArgument(`${file}: entry ${i} is not a 64-hex-character Ed25519 public key`);
    out.add(k.toLowerCase());
  });
  return out;
}
