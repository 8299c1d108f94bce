// Secret masking for everything the API returns: keys that look like credentials read back
// as "******", like Ironic's mask_dict_password.
import { createHash } from 'node:crypto';

export const MASK = '******';

// configdrive: its user_data often carries keys and passwords, as Ironic masks it too.
const SECRET_KEY = /pass(word)?|secret|token|(^|_)key$|credential|^configdrive$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

export function maskSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map(maskSecrets) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, isSecretKey(k) && v != null && v !== '' ? MASK : maskSecrets(v)]),
    ) as T;
  }
  return value;
}

/** Whether `value` is, or holds at any depth, a non-empty value under a secret-looking key. */
export function containsSecret(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(containsSecret);
  if (value && typeof value === 'object') {
    return Object.entries(value).some(([k, v]) => (isSecretKey(k) && v != null && v !== '') || containsSecret(v));
  }
  return false;
}

/**
 * `text` with `secret` masked wherever it appears, also URL-encoded, for error messages that may
 * echo what a BMC or a tool was sent.
 */
export function scrubSecret(text: string, secret: string | undefined): string {
  if (!secret) return text;
  return [secret, encodeURIComponent(secret)].reduce((scrubbed, form) => scrubbed.replaceAll(form, MASK), text);
}

/** How tokens are kept at rest: they are long random strings, so a plain SHA-256 is enough. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
