/**
 * The protocol the transport tests run: the real SecAgg / SecAgg+ state
 * machines of src/secagg (with SecAgg+ parameters from the finder).
 */
export { secAggProtocol as protocolUnderTest } from '../../src/fl/secagg-protocol.js';
