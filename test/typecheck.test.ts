import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';

test('the whole tree typechecks (tsc -p tsconfig.json, run by the global setup)', () => {
  expect(readFileSync('dist/tsc-output.txt', 'utf8')).toBe('');
});
