// The control channel's bearer token: read from its file, compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Shortest token accepted from a file: anything shorter is guessable. */
export const MIN_CONTROL_TOKEN_LENGTH = 16;

/**
 * True when `offered` is `expected`, in time that does not depend on where they differ nor
 * on their lengths (both are hashed to 32 bytes first, so timingSafeEqual sees equal sizes).
 */
export function tokenMatches(offered: string, expected: string): boolean {
  const a = createHash('sha256').update(offered).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token in `file` (surrounding white space trimmed); throws an operator's error. */
export function readControlToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the control token file ${file}: ${(error as Error).message}`);
  }
  const token = text.trim();
  if (token.length < MIN_CONTROL_TOKEN_LENGTH) {
    throw new Error(`the control token in ${file} is ${token.length} characters long; give at least ${MIN_CONTROL_TOKEN_LENGTH} (e.g. openssl rand -hex 32 > ${file})`);
  }
  if (/\s/.test(token)) throw new Error(`the control token in ${file} contains white space; use one word (e.g. openssl rand -hex 32 > ${file})`);
  return token;
}
