/**
 * Keys and MACs of the identity flow. Both keys (state and session) are derived by HKDF-SHA256 from the key material
 * (`auth.sessionSecret`, else the app's secret), each with its own label, so neither is the secret itself and a
 * MAC made for one purpose never verifies for the other.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

const SALT = 'nestjs-wecom-token identity v1';

/** A 32-byte key for `purpose`, derived from `material` (never returned or stored as such). */
export function deriveKey(material: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(material, 'utf8'), SALT, purpose, 32));
}

/** HMAC-SHA256 of `data` under `key`. */
export function mac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** Constant-time comparison of two byte strings of any length. */
export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
