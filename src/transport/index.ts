/**
 * fedveil transport layer: the channel abstraction, the in-memory transport
 * (embedded default), the authenticated coordinator and participant, and
 * the WebSocket server (Node, `ws`) and client channel. The browser bundle
 * (src/browser/) imports the isomorphic modules directly, never this
 * entry, so Node-only pieces may live here. See docs/network.md.
 */
export * from './channel.js';
export * from './memory.js';
export * from './wire.js';
export * from './session.js';
export * from './protocol.js';
export * from './coordinator.js';
export * from './participant.js';
export * from './ws-client.js';
export * from './limits.js';
export * from './secagg-protocol.js';
export * from './ws-server.js';
export * from './node-client.js';
export * from './status-page.js';
export * from './training-codec.js';
