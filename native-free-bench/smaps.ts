// Where a process's resident memory lies, from /proc/<pid>/smaps, in the classes that tell a
// V8 heap from malloc (Linux, glibc): V8 allocates its heap in 256 KiB pages (anonymous
// mappings under 1 MiB each); glibc's main arena grows the [heap] (brk) and each further
// thread's arena is a 64 MiB-aligned anonymous reservation (read-write part plus a ---p rest)
// that malloc'ed memory of worker threads (their ArrayBuffers' backing stores included) lives in.
import { readFileSync } from 'node:fs';

export interface MemoryMap {
  /** Anonymous mappings under 1 MiB: V8 heap pages (and small thread stacks). */
  v8PagesMiB: number;
  /** glibc's main arena ([heap]): the main (I/O) thread's malloc. */
  brkHeapMiB: number;
  /** glibc's per-thread arenas (64 MiB reservations): worker and libuv threads' malloc. */
  threadArenasMiB: number;
  /** Other anonymous mappings (1 MiB and more: large malloc chunks, V8 large objects, code range). */
  otherAnonMiB: number;
  /** File-backed: the node binary, libraries (shared with other processes). */
  fileMiB: number;
}

const ARENA = 64 * 1024 * 1024;

export function memoryMap(pid: number): MemoryMap | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return null;
  }
  const maps: Array<{ start: number; end: number; perm: string; name: string; rssKiB: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m !== null) {
      maps.push({ start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), perm: m[3]!, name: m[4]!.trim(), rssKiB: 0 });
    } else if (line.startsWith('Rss:') && maps.length > 0) {
      maps[maps.length - 1]!.rssKiB = Number(line.split(/\s+/)[1]);
    }
  }
  const out: MemoryMap = { v8PagesMiB: 0, brkHeapMiB: 0, threadArenasMiB: 0, otherAnonMiB: 0, fileMiB: 0 };
  maps.forEach((m, i) => {
    const mib = m.rssKiB / 1024;
    if (m.name === '[heap]') out.brkHeapMiB += mib;
    else if (m.name.startsWith('/')) out.fileMiB += mib;
    else if (m.name === '') {
      const next = maps[i + 1];
      // Addresses fit a double exactly (47 bits).
      const arena = m.start % ARENA === 0 && next !== undefined && next.start === m.end && next.perm === '---p' && next.name === '' && next.end - m.start === ARENA;
      if (arena) out.threadArenasMiB += mib;
      else if (m.end - m.start < 1024 * 1024) out.v8PagesMiB += mib;
      else out.otherAnonMiB += mib;
    }
  });
  return out;
}
