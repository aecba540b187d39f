// The generated kernels in src/encode/pack-kernels.ts must be exactly what
// the generator produces (regenerate with the command in its header).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatePackKernels, KERNEL_WIDTHS } from './gen-pack-kernels.js';
import { PACK_KERNELS, UNPACK_KERNELS } from '../../src/encode/pack-kernels.js';

test('src/encode/pack-kernels.ts is up to date with test/encode/gen-pack-kernels.ts', () => {
  const committed = readFileSync(join(process.cwd(), 'src/encode/pack-kernels.ts'), 'utf8');
  expect(committed === generatePackKernels()).toBe(true);
});

test('every width except 8, 16 and 32 has a pack and an unpack kernel', () => {
  expect(KERNEL_WIDTHS.length).toBe(29);
  for (let b = 1; b <= 32; b++) {
    const expected = b !== 8 && b !== 16 && b !== 32;
    expect(PACK_KERNELS[b] !== undefined).toBe(expected);
    expect(UNPACK_KERNELS[b] !== undefined).toBe(expected);
  }
});
