/**
 * fedveil transport layer: the channel abstraction, the in-memory transport
 * (embedded default), the authenticated coordinator and participant, and
 * the isomorphic WebSocket client channel. Node-only pieces (the `ws`
 * server and identity files) are in `./node.js` so that this entry stays
 * browser-safe. See docs/network.md.
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
