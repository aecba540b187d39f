/**
 * Durability helpers for the Node-only ledger stores: fsync of the directory
 * that holds a file, so that a newly created (or renamed) file survives a
 * crash, not only its bytes. Node built-ins are imported on use, so a module
 * that imports this one still bundles for browsers as long as it never calls it.
 */

/** fsync the directory holding `path`. Platforms that cannot open or fsync a directory (Windows) skip it; the file itself is fsync'd by the caller. */
export async function syncDir(path: string): Promise<void> {
  const { dirname } = await import('node:path');
  const fs = await import('node:fs/promises');
  try {
    const dir = await fs.open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // No directory fsync on this platform.
  }
}
