/**
 * The protocol the transport tests run: the real SecAgg state machines when
 * src/secagg provides them, else the plaintext stand-in.
 */
import { fakeProtocol } from './fake-protocol.js';
export const protocolUnderTest = fakeProtocol;
