// Per-association token buckets (src/registrar/rate-limit.ts) in virtual time: the clock is a
// number the test moves.
import { describe, expect, test } from 'vitest';
import { AssociationRates, RATE_LOG_INTERVAL, TokenBucket, ratedKind, type DropNotice, type RateLimitCounters } from '../../src/registrar/rate-limit.js';
import { AsapType } from '../../src/wire/constants.js';

function virtualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** How many of `n` takes at the current instant succeed. */
function takeMany(bucket: TokenBucket, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (bucket.take()) ok++;
  return ok;
}

describe('TokenBucket', () => {
  test('holds one second of tokens, then refills at the rate', () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(100, clock.now);
    expect(takeMany(bucket, 150)).toBe(100);
    clock.advance(10); // 1 token
    expect(takeMany(bucket, 5)).toBe(1);
    clock.advance(500); // 50 tokens
    expect(takeMany(bucket, 100)).toBe(50);
  });

  test('never holds more than one second, however long it was idle', () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(10, clock.now);
    takeMany(bucket, 10);
    clock.advance(3_600_000);
    expect(takeMany(bucket, 100)).toBe(10);
  });

  test('fractional refills add up: no token is lost to rounding', () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(1000, clock.now);
    takeMany(bucket, 1000);
    let ok = 0;
    for (let i = 0; i < 10_000; i++) {
      clock.advance(0.25); // a quarter token per step
      if (bucket.take()) ok++;
    }
    expect(ok).toBe(2500);
  });

  test('a steady sender at the rate is never dropped; at twice the rate, half is', () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(100, clock.now);
    let ok = 0;
    for (let i = 0; i < 1000; i++) {
      clock.advance(10);
      if (bucket.take()) ok++;
    }
    expect(ok).toBe(1000);
    const fast = new TokenBucket(100, clock.now);
    takeMany(fast, 100); // the initial burst
    ok = 0;
    for (let i = 0; i < 2000; i++) {
      clock.advance(5);
      if (fast.take()) ok++;
    }
    expect(ok).toBe(1000);
  });

  test('a larger capacity allows a larger burst at the same rate', () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(100, clock.now, 1000);
    expect(takeMany(bucket, 5000)).toBe(1000);
    clock.advance(1000);
    expect(takeMany(bucket, 5000)).toBe(100);
    // A capacity below one second's worth is raised to it.
    expect(takeMany(new TokenBucket(100, clock.now, 10), 500)).toBe(100);
  });

  test('rate 0 is unlimited', () => {
    const clock = virtualClock();
    expect(takeMany(new TokenBucket(0, clock.now), 1_000_000)).toBe(1_000_000);
  });

  test('a clock that goes back adds nothing', () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(10, clock.now);
    takeMany(bucket, 10);
    clock.advance(-500);
    expect(bucket.take()).toBe(false);
    clock.advance(600); // 100 ms after the last refill: 1 token
    expect(takeMany(bucket, 5)).toBe(1);
  });
});

describe('AssociationRates', () => {
  const settings = { registrationRate: 5, resolutionRate: 20, unreachableReportRate: 2 };

  test('registrations and deregistrations share a bucket; resolutions and reports have their own', () => {
    const clock = virtualClock();
    const counters: RateLimitCounters = { registrations: 0, resolutions: 0, unreachableReports: 0 };
    const notices: DropNotice[] = [];
    const rates = new AssociationRates(settings, clock.now, counters, (x) => notices.push(x));
    const admit = (type: number, n: number): number => {
      let ok = 0;
      for (let i = 0; i < n; i++) if (ratedKind(type) === null || rates.admit(ratedKind(type)!)) ok++;
      return ok;
    };
    expect(admit(AsapType.Registration, 3)).toBe(3);
    expect(admit(AsapType.Deregistration, 5)).toBe(2);
    expect(admit(AsapType.HandleResolution, 30)).toBe(20);
    expect(admit(AsapType.EndpointUnreachable, 10)).toBe(2);
    // Types without a rate pass whatever the buckets hold.
    expect(admit(AsapType.EndpointKeepAliveAck, 1000)).toBe(1000);
    expect(admit(AsapType.Error, 10)).toBe(10);
    expect(counters).toEqual({ registrations: 3, resolutions: 10, unreachableReports: 8 });
    // One log line for the whole burst of drops.
    expect(notices).toEqual([{ kind: 'registrations', dropped: 1 }]);
  });

  test('drops are logged at most once per interval, each line with the drops since the last', () => {
    const clock = virtualClock();
    const counters: RateLimitCounters = { registrations: 0, resolutions: 0, unreachableReports: 0 };
    const notices: DropNotice[] = [];
    const rates = new AssociationRates({ registrationRate: 0, resolutionRate: 1, unreachableReportRate: 0 }, clock.now, counters, (x) => notices.push(x));
    const flood = (ms: number): void => {
      for (let t = 0; t < ms; t += 10) {
        clock.advance(10);
        for (let i = 0; i < 10; i++) rates.admit('resolutions');
      }
    };
    flood(RATE_LOG_INTERVAL * 3);
    expect(notices.length).toBe(3);
    const total = notices.reduce((s, n) => s + n.dropped, 0);
    // The drops after the last logged line are counted, just not logged yet.
    expect(counters.resolutions).toBeGreaterThan(total);
    expect(counters.resolutions - total).toBeLessThan((RATE_LOG_INTERVAL / 10) * 10);
    expect(notices[0]!.dropped).toBe(1);
  });

  test('the registration bucket holds the association\'s PE allowance when that is larger than a second\'s worth', () => {
    const clock = virtualClock();
    const counters: RateLimitCounters = { registrations: 0, resolutions: 0, unreachableReports: 0 };
    const rates = new AssociationRates({ registrationRate: 100, resolutionRate: 0, unreachableReportRate: 0, maxElementsPerAssociation: 10_000 }, clock.now, counters, () => undefined);
    let ok = 0;
    for (let i = 0; i < 20_000; i++) if (rates.admit('registrations')) ok++;
    expect(ok).toBe(10_000);
    clock.advance(1000);
    ok = 0;
    for (let i = 0; i < 20_000; i++) if (rates.admit('registrations')) ok++;
    expect(ok).toBe(100);
    expect(counters.registrations).toBe(40_000 - 10_100);
  });

  test('ratedKind maps the message types RFC 5352 §2.2 names', () => {
    expect(ratedKind(AsapType.Registration)).toBe('registrations');
    expect(ratedKind(AsapType.Deregistration)).toBe('registrations');
    expect(ratedKind(AsapType.HandleResolution)).toBe('resolutions');
    expect(ratedKind(AsapType.EndpointUnreachable)).toBe('unreachableReports');
    expect(ratedKind(AsapType.EndpointKeepAliveAck)).toBeNull();
    expect(ratedKind(undefined)).toBeNull();
  });
});
