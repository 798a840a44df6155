import { describe, expect, it } from 'vitest';
import {
  ssnAdd, ssnDiff, ssnGt, ssnGte, ssnLt, ssnLte,
  tsnAdd, tsnDiff, tsnGt, tsnGte, tsnLt, tsnLte, tsnMax,
} from '../../src/sctp/serial.js';

describe('TSN serial arithmetic (RFC 1982, RFC 9260 §1.6)', () => {
  it('compares across the 32-bit wrap', () => {
    expect(tsnLt(0xffffffff, 0)).toBe(true);
    expect(tsnGt(0, 0xffffffff)).toBe(true);
    expect(tsnLt(0xfffffff0, 5)).toBe(true);
    expect(tsnLte(7, 7)).toBe(true);
    expect(tsnGte(7, 7)).toBe(true);
    expect(tsnLt(7, 7)).toBe(false);
    expect(tsnGt(5, 0xfffffff0)).toBe(true);
    expect(tsnLt(1, 2)).toBe(true);
    expect(tsnLt(0x7ffffffe, 0x7fffffff)).toBe(true);
    expect(tsnLt(0x7fffffff, 0x80000000)).toBe(true);
  });
  it('adds and subtracts modulo 2^32', () => {
    expect(tsnAdd(0xffffffff, 1)).toBe(0);
    expect(tsnAdd(0, -1)).toBe(0xffffffff);
    expect(tsnAdd(0xfffffffe, 100_000)).toBe(100_000 - 2);
    expect(tsnDiff(0xffffffff, 3)).toBe(4);
    expect(tsnDiff(3, 0xffffffff)).toBe(-4);
    expect(tsnMax(0xffffffff, 2)).toBe(2);
    expect(tsnMax(2, 0xffffffff)).toBe(2);
  });
});

describe('SSN serial arithmetic (16 bits)', () => {
  it('compares across the 16-bit wrap', () => {
    expect(ssnLt(0xffff, 0)).toBe(true);
    expect(ssnGt(0, 0xffff)).toBe(true);
    expect(ssnLte(3, 3)).toBe(true);
    expect(ssnGte(3, 3)).toBe(true);
    expect(ssnLt(0xfff0, 0x10)).toBe(true);
    expect(ssnGt(0x10, 0xfff0)).toBe(true);
  });
  it('adds modulo 2^16', () => {
    expect(ssnAdd(0xffff, 1)).toBe(0);
    expect(ssnAdd(0, -1)).toBe(0xffff);
    expect(ssnDiff(0xfffe, 2)).toBe(4);
    expect(ssnDiff(2, 0xfffe)).toBe(-4);
  });
});
