// PE and registrar identifiers print as 0x and eight hex digits, as RSPLIB's tools show them.
import { describe, expect, it } from 'vitest';
import { hexId } from '../../src/wire/identifier-text.js';

describe('hexId', () => {
  it('prints 0x and eight lower-case hex digits for any 32-bit value', () => {
    expect(hexId(0)).toBe('0x00000000');
    expect(hexId(0x0e200001)).toBe('0x0e200001');
    expect(hexId(0xffffffff)).toBe('0xffffffff');
    expect(hexId(0xb0001003 | 0)).toBe('0xb0001003'); // a negative int32 is taken unsigned
    expect(hexId(42)).toBe('0x0000002a');
  });
});
