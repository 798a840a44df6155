// A large JSON body (GET /handlespace) written in pieces with backpressure: the same text as
// `JSON.stringify(value, null, 2)`, but never one string of the whole document (V8 caps a
// string at ~512 MiB: at ~620 B per PE indented, a handlespace of ~860,000 PEs overflows it
// and JSON.stringify throws), and never more than one chunk waiting on a slow reader.
import type { ServerResponse } from 'node:http';

/** Bytes gathered before one write (each write then waits for the socket to drain). */
const CHUNK_CHARS = 64 * 1024;
/** Levels split into pieces; deeper values (one element) are stringified whole. */
const STREAM_DEPTH = 4;
const INDENT = '  ';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/** `value` at nesting `depth`, as JSON.stringify(value, null, 2) would print it there. */
function leaf(value: unknown, pad: string): string | undefined {
  const text = JSON.stringify(value, null, 2) as string | undefined;
  return text === undefined ? undefined : text.replace(/\n/g, `\n${pad}`);
}

/**
 * The pieces of `JSON.stringify(value, null, 2)`: arrays and plain objects down to
 * STREAM_DEPTH are opened piece by piece, anything deeper in one piece.
 */
export function* jsonPieces(value: unknown, depth = 0): Generator<string> {
  const pad = INDENT.repeat(depth);
  const inner = pad + INDENT;
  if (depth < STREAM_DEPTH && Array.isArray(value)) {
    if (value.length === 0) return yield '[]';
    yield '[\n';
    for (let i = 0; i < value.length; i++) {
      yield inner;
      const item = value[i] as unknown;
      // As JSON.stringify: undefined, functions and symbols in an array print as null.
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') yield 'null';
      else yield* jsonPieces(item, depth + 1);
      yield i + 1 < value.length ? ',\n' : '\n';
    }
    return yield `${pad}]`;
  }
  if (depth < STREAM_DEPTH && isPlainObject(value)) {
    const keys = Object.keys(value).filter((k) => {
      const v = value[k];
      return v !== undefined && typeof v !== 'function' && typeof v !== 'symbol';
    });
    if (keys.length === 0) return yield '{}';
    yield '{\n';
    for (let i = 0; i < keys.length; i++) {
      yield `${inner}${JSON.stringify(keys[i])}: `;
      yield* jsonPieces(value[keys[i]!], depth + 1);
      yield i + 1 < keys.length ? ',\n' : '\n';
    }
    return yield `${pad}}`;
  }
  const text = leaf(value, pad);
  yield text ?? 'null';
}

/**
 * Writes `JSON.stringify(value, null, 2) + '\n'` to `response` (head already written) in
 * chunks of about 64 KiB, each after the previous one drained; ends the response. Resolves
 * when done, or early (quietly) when the connection went away; a failure destroys the response
 * (its head is sent: no other answer is possible) and rejects.
 */
export async function writeJsonStream(response: ServerResponse, value: unknown): Promise<void> {
  let buffer = '';
  const gone = (): boolean => response.destroyed || response.writableEnded;
  const flush = async (): Promise<void> => {
    const chunk = buffer;
    buffer = '';
    if (response.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        response.off('drain', done);
        response.off('close', done);
        resolve();
      };
      response.on('drain', done);
      response.on('close', done);
    });
  };
  try {
    for (const piece of jsonPieces(value)) {
      buffer += piece;
      if (buffer.length >= CHUNK_CHARS) {
        await flush();
        if (gone()) return;
      }
    }
    buffer += '\n';
    if (!gone()) response.end(buffer);
  } catch (error) {
    response.destroy(error as Error);
    throw error;
  }
}
