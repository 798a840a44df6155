// Snapshot files on disk: written atomically (a temporary file in the same directory,
// fsync, rename over the old one, fsync of the directory), so that a crash or a power loss
// leaves either the old snapshot or the new one, never a torn file; read whole and checked
// (src/snapshot/snapshot-format.ts) before anything of it is believed.
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SnapshotError, SnapshotReader } from './snapshot-format.js';

/** Writes `bytes` to `path` atomically; resolves once they are on disk. */
export async function writeSnapshotFile(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  const temporary = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const file = await open(temporary, 'w', 0o600);
  try {
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await file.write(bytes, written, bytes.length - written);
      written += bytesWritten;
    }
    await file.sync();
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
  await file.close();
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  // The rename is durable once the directory is synced (not possible on every platform).
  const directory = await open(dir, 'r').catch(() => null);
  if (directory !== null) {
    await directory.sync().catch(() => undefined);
    await directory.close();
  }
}

/**
 * Reads and checks a snapshot file. A missing file, unreadable, corrupt or foreign file is a
 * SnapshotError naming the file and what is wrong.
 */
export async function readSnapshotFile(path: string, options: { verify?: boolean } = {}): Promise<SnapshotReader> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new SnapshotError(e.code === 'ENOENT' ? `${path}: no such file` : `${path}: ${e.message}`);
  }
  try {
    return new SnapshotReader(bytes, options);
  } catch (error) {
    throw new SnapshotError(`${path}: ${(error as Error).message}`);
  }
}
