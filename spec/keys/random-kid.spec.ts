import { randomKid } from '../../lib/keys/key-set';

describe('randomKid', () => {
  it('never starts with - or _, so `keys retire --kid <kid>` cannot read it as an option', () => {
    // base64url starts with '-' or '_' once in 32 draws; 10 000 draws would all but surely show one
    const kids = Array.from({ length: 10_000 }, () => randomKid());
    expect(kids.filter((kid) => !/^[A-Za-z0-9]/.test(kid))).toEqual([]);
    expect(new Set(kids).size).toBe(kids.length);
    expect(kids.every((kid) => /^[A-Za-z0-9_-]{22}$/.test(kid))).toBe(true);
    expect(randomKid(12)).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{15}$/);
  });
});
