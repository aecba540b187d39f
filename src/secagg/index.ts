/**
 * Secure aggregation (Bonawitz et al. CCS'17; SecAgg+ of Bell et al. CCS'20):
 * configuration and parameter finder, neighbour graphs, wire messages,
 * client and server state machines, and the in-memory round runner.
 */
export * from './types.js';
export { makeConfig, roundTag, PROTOCOL_VERSION } from './config.js';
export { findSecAggPlusParams, hypergeometricPmf, type SecAggPlusParams, type SecAggPlusParamsInput } from './params.js';
export { neighbourGraph, relabelling, type NeighbourGraph } from './graph.js';
export { encodeMessage, decodeMessage, type DecodeContext } from './messages.js';
export { SecAggClient } from './client.js';
export { SecAggServer } from './server.js';
export { runSecAggRound, type RunSecAggRoundOptions, type SecAggRoundResult } from './runner.js';
export { RosterCommitment, rosterLeafHash, rosterRoot, verifyRosterEntry, type RosterEntry } from './roster.js';
export { encodeSurvivors, decodeSurvivors, hasSurvivor, survivorCount } from './survivors.js';
