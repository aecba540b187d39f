/**
 * Mask removal for the SecAgg server (Bonawitz et al. CCS'17, §4 Unmasking:
 * sum - sum_{u in U3} PRG(b_u) +/- sum_{dropped v, surviving u} PRG(s_uv)).
 *
 * All keys go to one call of the crypto layer's blocked multi-key
 * accumulation (`prgAddManyInto`): the sum crosses DRAM once instead of
 * once per key, and the per-block arithmetic runs in WebAssembly SIMD. The
 * result is byte-identical to one `prgAddInto` per key, in any order
 * (addition mod 2^b commutes).
 */
import { prgAddManyInto } from '../crypto/prg.js';

/** sum = sum + sum_i signs[i] * PRG(keys[i]) mod 2^bits. */
export function removeMasks(keys: readonly Uint8Array[], signs: readonly number[], sum: Uint32Array, bits: number): void {
  prgAddManyInto(keys, signs, sum, bits);
}
