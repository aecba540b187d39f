/**
 * fedveil's differential-privacy layer (docs/distributed-dp.md,
 * docs/accounting.md, docs/ledger.md): privacy events, accountants (RDP,
 * PLD, GDP-CLT) and calibration; the distributed-noise RDP bounds, samplers,
 * planner and pipeline; adaptive clipping (the clip-norm tracker and the
 * noised clipped count); the plan a client verifies and its own ledger; the
 * privacy ledger, its verifier and the epsilon plot. Numerical helpers
 * (special functions, PMF arithmetic, RDP conversions) stay internal.
 */
export {
  gaussianEvent, poissonSampledEvent, sampledWithoutReplacementEvent, selfComposedEvent, composedEvent, poissonGaussianRounds,
  validateEvent, describeEvent, toDpAccountingPython, guaranteeOf, usesSamplingAmplification, withoutSamplingAmplification,
  GUARANTEE_TEXT, UnsupportedEvent,
  type DpEvent, type DpEventType, type GaussianEvent, type PoissonSampledEvent, type SampledWithoutReplacementEvent,
  type SelfComposedEvent, type ComposedEvent, type Guarantee,
} from './events.js';
export { createAccountant, computeEpsilon, computeDelta, type AccountantKind, type AccountantOptions, type PrivacyAccountant, type EpsilonResult, type NeighboringRelation } from './accountant.js';
export { RdpAccountant, DEFAULT_RDP_ORDERS, DP_ACCOUNTING_RDP_ORDERS, type RdpAccountantOptions } from './rdp.js';
export { PldAccountant, choosePldDiscretization, DEFAULT_PLD_DISCRETIZATION, DP_ACCOUNTING_PLD_DISCRETIZATION, type PldAccountantOptions, type Adjacency } from './pld.js';
export { GdpAccountant } from './gdp.js';
export { calibrateNoiseMultiplier, type CalibrationRequest, type CalibrationResult } from './calibrate.js';
export { distributedEvent, distributedRdp, type DiscreteGaussianEvent, type SkellamEvent, type DistributedNoiseEvent, type PoissonSampledDistributedEvent } from './distributed-rdp.js';
export { sampleDiscreteGaussian, sampleSkellam, samplePoisson } from './samplers.js';
export {
  planDistributedDp, planRound, type DistributedMechanism, type DistributedDpRequest, type DistributedDpPlan,
  type AdaptiveClippingRequest, type AdaptiveClippingPlan, type AdaptiveRoundEvent,
} from './plan.js';
export {
  ADAPTIVE_CLIPPING_DEFAULTS, combinedNoiseMultiplier, splitNoiseMultiplier, clipCountEvent,
  encodeClipCount, privatizeUpdateWithClipCount, decodeClipCount,
  createClipTracker, updateClipTracker, parseClipTrackerState, adaptiveRoundRequest,
  type ClipCountEstimate, type ClipTrackerState, type ClipTrackerOptions,
} from './adaptive-clip.js';
export { privatizeUpdate, decodeAggregate } from './pipeline.js';
export {
  LedgerVerificationError, LedgerPartialLine,
  type AccountantName, type LedgerMechanism, type JsonValue, type LedgerRoundParams, type LedgerHeader, type LedgerRound, type LedgerLine, type LedgerIssueCode,
} from './ledger-format.js';
export { verifyLedger, assertLedgerValid, type LedgerIssue, type LedgerRoundReport, type LedgerReport, type VerifyOptions } from './ledger-verify.js';
export {
  PrivacyLedger, LedgerFileError, LedgerWriteError, verifyLedgerFile, generateLedgerKey, saveLedgerKey, loadLedgerKey, openLedgerWithKey,
  type LedgerFileProblem, type CreateLedgerOptions, type OpenLedgerOptions, type AppendRoundInput, type AppendedRound, type BudgetCheck,
  type RepairResult, type LoadLedgerKeyOptions, type OpenLedgerWithKeyOptions, type OpenedLedger,
} from './ledger.js';
export { plotPointsFromReport, epsilonPlotSpec, renderEpsilonPlot, type EpsilonPlotPoint, type EpsilonPlotInput } from './plot.js';
export {
  ParticipationTally, participantHash, participantCommitment, PARTICIPANT_DOMAIN, type CoordinatorEpsilon, type IdentityEpsilon,
} from './participants.js';
export { verifyPlan, planHash, unamplifiedEvent, unamplifiedRoundEvent, roundEvent, DEFAULT_DP_FLOOR, type DpFloor, type PlanVerifyContext } from './plan-verify.js';
export {
  ClientPrivacyLedger, memoryClientLedgerStore,
  type ClientLedgerStore, type ClientLedgerEntry, type ClientLedgerOptions, type ParticipationRequest, type PrivacySpent,
  type ParticipationCheck, type RecordedParticipation, type MemoryClientLedgerStore,
} from './client-ledger.js';
export { fileClientLedgerStore, type FileClientLedgerStoreOptions } from './client-ledger-node.js';
export { indexedDbClientLedgerStore, type IndexedDbClientLedgerStoreOptions } from './client-ledger-idb.js';
