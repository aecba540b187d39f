/**
 * Secure aggregation (Bonawitz et al. CCS'17; SecAgg+ of Bell et al. CCS'20):
 * configuration and parameter finder, neighbour graphs, wire messages,
 * client and server state machines, and the in-memory round runner.
 */
export * from './types.js';
export { makeConfig, PROTOCOL_VERSION } from './config.js';
export { findSecAggPlusParams, type SecAggPlusParams, type SecAggPlusParamsInput } from './params.js';
export { encodeMessage, decodeMessage, type DecodeContext } from './messages.js';
export { SecAggClient } from './client.js';
export { SecAggServer } from './server.js';
export { runSecAggRound, type RunSecAggRoundOptions, type SecAggRoundResult } from './runner.js';
export { RosterCommitment, rosterRoot, verifyRosterEntry, type RosterEntry } from './roster.js';
