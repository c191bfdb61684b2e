import { BoundedCache } from '../../lib/util/bounded-cache';

const LATER = 1_000_000;

describe('BoundedCache', () => {
  describe('when entries expire', () => {
    it('answers undefined at and after expiresAt', () => {
      const cache = new BoundedCache<string, number>(10);
      cache.set('a', 1, 100);
      expect(cache.get('a', 99)).toBe(1);
      expect(cache.get('a', 100)).toBeUndefined();
      expect(cache.size).toBe(0);
    });
  });

  describe("with the default 'fifo' policy", () => {
    it('evicts the oldest-inserted entry, whatever hit since', () => {
      const cache = new BoundedCache<string, number>(2);
      cache.set('a', 1, LATER);
      cache.set('b', 2, LATER);
      cache.get('a', 0);
      cache.set('c', 3, LATER);
      expect(cache.get('a', 0)).toBeUndefined();
      expect(cache.get('b', 0)).toBe(2);
    });
  });

  describe("with the 'lru' policy", () => {
    it('evicts the least recently used entry', () => {
      const cache = new BoundedCache<string, number>(2, { policy: 'lru' });
      cache.set('a', 1, LATER);
      cache.set('b', 2, LATER);
      cache.get('a', 0);
      cache.set('c', 3, LATER);
      expect(cache.get('a', 0)).toBe(1);
      expect(cache.get('b', 0)).toBeUndefined();
    });
  });

  describe("with the 'lru' policy's second chance", () => {
    it('keeps every entry hit since the last eviction pass, and evicts the unmarked one', () => {
      const cache = new BoundedCache<string, number>(3, { policy: 'lru' });
      cache.set('a', 1, LATER);
      cache.set('b', 2, LATER);
      cache.set('c', 3, LATER);
      cache.get('a', 0);
      cache.get('c', 0);
      cache.set('d', 4, LATER);
      expect([cache.get('a', 0), cache.get('b', 0), cache.get('c', 0), cache.get('d', 0)]).toEqual([
        1,
        undefined,
        3,
        4,
      ]);
    });

    it('evicts the oldest when every entry was hit (one pass clears the marks)', () => {
      const cache = new BoundedCache<string, number>(2, { policy: 'lru' });
      cache.set('a', 1, LATER);
      cache.set('b', 2, LATER);
      cache.get('a', 0);
      cache.get('b', 0);
      cache.set('c', 3, LATER);
      expect(cache.size).toBe(2);
      expect(cache.get('a', 0)).toBeUndefined();
      expect([cache.get('b', 0), cache.get('c', 0)]).toEqual([2, 3]);
    });
  });

  describe('when a byte bound is set', () => {
    it('keeps the sum of the declared bytes within maxBytes, evicting as needed', () => {
      const cache = new BoundedCache<string, number>(100, { maxBytes: 1000, policy: 'lru' });
      for (let i = 0; i < 50; i++) cache.set(`k${i}`, i, LATER, 300);
      expect(cache.bytes).toBeLessThanOrEqual(1000);
      expect(cache.size).toBe(3);
      expect(cache.get('k49', 0)).toBe(49);
    });

    it('refuses an entry larger than maxBytes without evicting anything', () => {
      const cache = new BoundedCache<string, number>(10, { maxBytes: 100 });
      cache.set('small', 1, LATER, 50);
      expect(cache.set('huge', 2, LATER, 101)).toBe(false);
      expect(cache.get('small', 0)).toBe(1);
      expect(cache.get('huge', 0)).toBeUndefined();
    });

    it('gives the bytes of a replaced or deleted entry back', () => {
      const cache = new BoundedCache<string, number>(10, { maxBytes: 100 });
      cache.set('a', 1, LATER, 60);
      cache.set('a', 2, LATER, 30);
      expect(cache.bytes).toBe(30);
      cache.delete('a');
      expect(cache.bytes).toBe(0);
    });
  });

  describe("with the 'admit-on-second-sighting' policy", () => {
    it('admits everything while it has room', () => {
      const cache = new BoundedCache<string, number>(3, { policy: 'admit-on-second-sighting' });
      expect([cache.set('a', 1, LATER), cache.set('b', 2, LATER), cache.set('c', 3, LATER)]).toEqual([
        true,
        true,
        true,
      ]);
    });

    it('refuses a key seen once when full, and admits it the second time', () => {
      const cache = new BoundedCache<string, number>(2, { policy: 'admit-on-second-sighting' });
      cache.set('a', 1, LATER);
      cache.set('b', 2, LATER);
      expect(cache.set('c', 3, LATER)).toBe(false);
      expect(cache.get('a', 0)).toBe(1);
      expect(cache.set('c', 3, LATER)).toBe(true);
      expect(cache.get('c', 0)).toBe(3);
      expect(cache.size).toBe(2);
    });

    it('with admitWhenRoom false, refuses a key seen once even while there is room', () => {
      const cache = new BoundedCache<string, number>(3, {
        policy: 'admit-on-second-sighting',
        admitWhenRoom: false,
      });
      expect(cache.set('a', 1, LATER)).toBe(false);
      expect(cache.get('a', 0)).toBeUndefined();
      expect(cache.size).toBe(0);
      expect(cache.set('a', 1, LATER)).toBe(true);
      expect(cache.get('a', 0)).toBe(1);
      // a present key is replaced without asking the doorkeeper
      expect(cache.set('a', 2, LATER)).toBe(true);
      expect(cache.get('a', 0)).toBe(2);
    });

    it('admits(print) asks the doorkeeper as set does, so a refused key need not be computed', () => {
      const cache = new BoundedCache<string, number>(2, {
        policy: 'admit-on-second-sighting',
        admitWhenRoom: false,
      });
      expect(cache.admits(42)).toBe(false);
      expect(cache.size).toBe(0);
      expect(cache.admits(42)).toBe(true);
      expect(cache.set('costly-key', 1, LATER, 0, true)).toBe(true);
      expect(cache.get('costly-key', 0)).toBe(1);
      // the sighting was consumed: the same print starts over
      expect(cache.admits(42)).toBe(false);
      // an entry larger than the byte bound is never admitted
      const bounded = new BoundedCache<string, number>(2, { maxBytes: 10 });
      expect(bounded.admits(7, 11)).toBe(false);
      expect(bounded.admits(7, 10)).toBe(true);
    });

    it('forgets first sightings after twice its size, in a table that does not grow', () => {
      const cache = new BoundedCache<string, number>(2, {
        policy: 'admit-on-second-sighting',
        admitWhenRoom: false,
      });
      expect(cache.admits(1)).toBe(false);
      for (let print = 100; print < 104; print++) expect(cache.admits(print)).toBe(false);
      // 1 was forgotten when the fifth first sighting reset the doorkeeper
      expect(cache.admits(1)).toBe(false);
      expect(cache.admits(1)).toBe(true);
    });

    it('does not thrash: a stream of 100 000 one-off keys leaves the 1 000 resident ones hitting', () => {
      const cache = new BoundedCache<string, number>(1000, { policy: 'admit-on-second-sighting' });
      for (let i = 0; i < 1000; i++) cache.set(`hot-${i}`, i, LATER);
      let hits = 0;
      for (let i = 0; i < 100_000; i++) {
        const hot = `hot-${i % 1000}`;
        if (cache.get(hot, 0) !== undefined) hits++;
        const cold = `cold-${i}`;
        if (cache.get(cold, 0) === undefined) cache.set(cold, i, LATER);
      }
      expect(hits / 100_000).toBeGreaterThan(0.95);
    });

    it('shows plain LRU thrashing under the same stream (what the doorkeeper prevents)', () => {
      const cache = new BoundedCache<string, number>(1000, { policy: 'lru' });
      for (let i = 0; i < 1000; i++) cache.set(`hot-${i}`, i, LATER);
      let hits = 0;
      for (let i = 0; i < 100_000; i++) {
        const hot = `hot-${i % 1000}`;
        if (cache.get(hot, 0) !== undefined) hits++;
        else cache.set(hot, i, LATER);
        const cold = `cold-${i}`;
        if (cache.get(cold, 0) === undefined) cache.set(cold, i, LATER);
      }
      expect(hits / 100_000).toBeLessThan(0.05);
    });
  });

  describe('when options are invalid', () => {
    it.each<[string, () => unknown]>([
      ['size 0', () => new BoundedCache(0)],
      ['maxBytes 0', () => new BoundedCache(1, { maxBytes: 0 })],
      ['an unknown policy', () => new BoundedCache(1, { policy: 'random' as 'lru' })],
    ])('throws for %s', (_name, make) => {
      expect(make).toThrow();
    });
  });
});
