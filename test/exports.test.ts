// The package's public API, name by name. Every runtime export of the root
// entry and of each layer entry is listed here, so adding or removing an
// export is a deliberate change to this file (and to CHANGELOG.md).
// `fedveil/fl` is left out: it loads tfjs; its entry is checked by tsc.
import * as root from '../src/index.js';
import * as crypto from '../src/crypto/index.js';
import * as encode from '../src/encode/index.js';
import * as secagg from '../src/secagg/index.js';
import * as dp from '../src/dp/index.js';
import * as transport from '../src/transport/index.js';
import * as errors from '../src/errors.js';
import { FedveilError, type FedveilErrorCode } from '../src/index.js';

const EXPECTED = {
  errors: [
    'BudgetExceeded', 'CryptoError', 'FedveilError', 'InfeasibleParameters', 'InvalidArgument',
    'InvalidMessage', 'InvalidPublicKey', 'LedgerIntegrityError', 'MissingDependency', 'PolicyViolation', 'ProtocolAborted',
    'ThresholdNotMet',
  ],
  crypto: [
    'AEAD_OVERHEAD', 'InvalidShare', 'MerkleTree', 'aeadOpen', 'aeadSeal', 'checkCertificate',
    'decodeCertificate', 'deriveKey', 'deterministicRandom', 'ed25519Backend', 'ed25519KeyPair',
    'ed25519PublicKey', 'ed25519Sign', 'ed25519Verify', 'encodeCertificate', 'hkdfSha256', 'kdfInfo', 'issueCertificate',
    'prgAddInto', 'prgAddIntoAsync', 'prgAddManyInto', 'prgAddManyIntoAsync', 'prgBackend', 'prgExpand',
    'prgExpandAsync', 'prgSyncBackend', 'randomBytes', 'sha256', 'shamirCombine', 'shamirSplit',
    'signRevocationList', 'systemRandom', 'verifyMerkleProof', 'verifyRevocationList', 'x25519Agree',
    'x25519Backend', 'x25519KeyPair', 'x25519PublicKey',
  ],
  encode: [
    'ROTATION_SEED_BYTES', 'addModInto', 'centre', 'clipL2', 'fwht', 'l2Norm', 'modulusMask', 'packBits',
    'packedLength', 'paddedLength', 'rotate', 'rotationSigns', 'scale', 'stochasticRound', 'subModInto',
    'unpackBits', 'unrotate', 'wrap',
  ],
  secagg: [
    'PROTOCOL_VERSION', 'RosterCommitment', 'SecAggClient', 'SecAggServer', 'decodeMessage', 'encodeMessage',
    'findSecAggPlusParams', 'makeConfig', 'rosterRoot', 'runSecAggRound', 'verifyRosterEntry',
  ],
  dp: [
    'ADAPTIVE_CLIPPING_DEFAULTS', 'ClientPrivacyLedger', 'DEFAULT_DP_FLOOR', 'DEFAULT_PLD_DISCRETIZATION', 'DEFAULT_RDP_ORDERS',
    'DP_ACCOUNTING_PLD_DISCRETIZATION', 'DP_ACCOUNTING_RDP_ORDERS', 'GUARANTEE_TEXT', 'GdpAccountant',
    'LedgerFileError', 'LedgerPartialLine', 'LedgerVerificationError', 'LedgerWriteError', 'PARTICIPANT_DOMAIN',
    'ParticipationTally', 'participantCommitment', 'participantHash', 'PldAccountant',
    'PrivacyLedger', 'RdpAccountant', 'UnsupportedEvent', 'assertLedgerValid', 'calibrateNoiseMultiplier',
    'choosePldDiscretization', 'composedEvent', 'computeDelta', 'computeEpsilon', 'createAccountant',
    'decodeAggregate', 'describeEvent', 'distributedEvent', 'distributedRdp', 'epsilonPlotSpec',
    'fileClientLedgerStore', 'gaussianEvent', 'generateLedgerKey', 'guaranteeOf',
    'indexedDbClientLedgerStore', 'loadLedgerKey', 'memoryClientLedgerStore', 'openLedgerWithKey',
    'planDistributedDp', 'planHash', 'planRound', 'plotPointsFromReport', 'poissonGaussianRounds',
    'poissonSampledEvent', 'privatizeUpdate', 'renderEpsilonPlot', 'sampleDiscreteGaussian', 'samplePoisson',
    'sampleSkellam', 'sampledWithoutReplacementEvent', 'saveLedgerKey', 'selfComposedEvent',
    'toDpAccountingPython', 'unamplifiedEvent', 'usesSamplingAmplification', 'validateEvent', 'verifyLedger',
    'verifyLedgerFile', 'verifyPlan', 'withoutSamplingAmplification',
    // adaptive clipping
    'adaptiveRoundRequest', 'clipCountEvent', 'combinedNoiseMultiplier', 'createClipTracker', 'decodeClipCount',
    'encodeClipCount', 'parseClipTrackerState', 'privatizeUpdateWithClipCount', 'roundEvent', 'splitNoiseMultiplier',
    'unamplifiedRoundEvent', 'updateClipTracker',
  ],
  transport: [
    'CloseCode', 'DEFAULT_SERVER_LIMITS', 'MemoryTransport',
    'WebSocketServerTransport', 'loadEnrolledKeys', 'loadOrCreateIdentity',
    'nodeConnector', 'parseIdentity', 'webSocketConnector',
  ],
} as const;

const names = (m: object): string[] => Object.keys(m).sort();

describe('public API', () => {
  test('each layer entry exports exactly its listed names', () => {
    expect(names(errors)).toEqual([...EXPECTED.errors].sort());
    expect(names(crypto)).toEqual([...EXPECTED.crypto].sort());
    expect(names(encode)).toEqual([...EXPECTED.encode].sort());
    expect(names(secagg)).toEqual([...EXPECTED.secagg].sort());
    expect(names(dp)).toEqual([...EXPECTED.dp].sort());
    expect(names(transport)).toEqual([...EXPECTED.transport].sort());
  });

  test('the root entry exports exactly the errors and the core layers (crypto, encode, secagg, dp)', () => {
    const expected = [...new Set([...EXPECTED.errors, ...EXPECTED.crypto, ...EXPECTED.encode, ...EXPECTED.secagg, ...EXPECTED.dp])].sort();
    expect(names(root)).toEqual(expected);
  });

  test('internal helpers are not exported', () => {
    for (const internal of ['u32', 'framed', 'logAdd', 'erfc', 'canonicalJson', 'bytesToLowerHex', 'hex', 'fromHex', 'shamirInterpolateAt', 'PRG_SIMD_WASM_BASE64']) {
      expect(Object.keys(root)).not.toContain(internal);
      expect(Object.keys(transport)).not.toContain(internal);
    }
  });

  test('a switch over FedveilErrorCode is checked by the compiler (exhaustive, no default)', () => {
    // `npm test` typechecks this file first: a code missing from the switch
    // makes `unhandled` a string and the assignment to `never` fails; a case
    // that is not a code fails too.
    const kind = (code: FedveilErrorCode): string => {
      switch (code) {
        case 'INVALID_ARGUMENT':
        case 'INFEASIBLE_PARAMETERS':
        case 'MISSING_DEPENDENCY':
          return 'caller';
        case 'CRYPTO_ERROR':
        case 'INVALID_PUBLIC_KEY':
        case 'AEAD_AUTH_FAILED':
        case 'INVALID_SHARE':
        case 'INVALID_MESSAGE':
          return 'peer';
        case 'PROTOCOL_ABORTED':
        case 'THRESHOLD_NOT_MET':
        case 'BAD_STATE':
        case 'SERVER_ABORTED':
        case 'INCONSISTENT_SURVIVORS':
        case 'NOT_FINISHED':
        case 'SHARE_MISMATCH':
        case 'STUCK':
        case 'CONNECTION_FAILED':
        case 'CONNECTION_LOST':
        case 'TOO_FEW_SURVIVORS':
        case 'COST_NOT_RECORDED':
          return 'round';
        case 'POLICY_VIOLATION':
        case 'BUDGET_EXCEEDED':
          return 'privacy';
        case 'LEDGER_INTEGRITY':
        case 'LEDGER_WRITE_FAILED':
          return 'ledger';
        case 'UNSUPPORTED_EVENT':
        case 'IDX_FORMAT':
          return 'input';
        default: {
          if (code.startsWith('REJECTED_')) return 'rejected';
          const unhandled: never = code as Exclude<typeof code, `REJECTED_${string}`>;
          return unhandled;
        }
      }
    };
    const err: FedveilError = new errors.ThresholdNotMet(2, 3, 'Unmasking');
    expect(kind(err.code)).toBe('round');
    expect(kind(new errors.PolicyViolation('mode', 'downgrade').code)).toBe('privacy');
    expect(kind('REJECTED_NOT_CERTIFIED')).toBe('rejected');
  });
});
