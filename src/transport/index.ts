/**
 * fedveil transport layer: the channel abstraction, the in-memory transport
 * (embedded default), the authenticated wire format and sessions, and
 * the WebSocket server (Node, `ws`) and client channel. The browser bundle
 * (src/browser/) imports the isomorphic modules directly, never this
 * entry, so Node-only pieces may live here. See docs/network.md.
 */
export { CloseCode, type Channel, type CloseInfo, type Connector, type ServerTransport } from './channel.js';
export { MemoryTransport } from './memory.js';
export type { RoundTask, RoundConfigWire, RosterWire, RosterEntryWire } from './wire.js';
export type { Identity } from './session.js';
export { webSocketConnector, type WebSocketFactory, type WebSocketLike } from './ws-client.js';
export { DEFAULT_SERVER_LIMITS, type FloodLimits, type LimitVerdict } from './limits.js';
export { WebSocketServerTransport, type WebSocketServerOptions } from './ws-server.js';
export { nodeConnector, loadOrCreateIdentity, parseIdentity, loadEnrolledKeys, type NodeConnectOptions } from './node-client.js';
