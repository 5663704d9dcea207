import { refreshPoint } from './access-token.service.js';

describe('refreshPoint', () => {
  const t0 = 1_700_000_000_000;
  it('is refreshAhead before expiry', () => {
    expect(refreshPoint({ token: 'a', fetchedAt: t0, expiresAt: t0 + 7_200_000 }, 300_000)).toBe(t0 + 6_900_000);
  });
  it('is never earlier than half the lifetime', () => {
    expect(refreshPoint({ token: 'a', fetchedAt: t0, expiresAt: t0 + 400_000 }, 300_000)).toBe(t0 + 200_000);
  });
  it('is the expiry itself when a fetch returned the held token without a later expiry', () => {
    const held = { token: 'a', fetchedAt: t0, expiresAt: t0 + 7_200_000 };
    const again = { token: 'a', fetchedAt: t0 + 6_900_000, expiresAt: t0 + 7_200_000 };
    expect(refreshPoint(again, 300_000, held)).toBe(held.expiresAt);
    const renewed = { token: 'b', fetchedAt: t0 + 6_900_000, expiresAt: t0 + 14_100_000 };
    expect(refreshPoint(renewed, 300_000, held)).toBe(t0 + 13_800_000);
  });
});
