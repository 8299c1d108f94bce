// Secret masking for everything the API returns: keys that look like credentials read back
// as "******", like Ironic's mask_dict_password.
import { createHash } from 'node:crypto';

export const MASK = '******';

// configdrive: its user_data often carries keys and passwords, as Ironic masks it too.
const SECRET_KEY = /pass(word)?|secret|token|(^|_)key$|credential|^configdrive$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** `value` with secret-looking keys read as "******" and URLs in its strings redacted (see redactUrls). */
export function maskSecrets<T>(value: T): T {
  if (typeof value === 'string') return redactUrls(value) as T;
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

/**
 * The path of the first secret in `value` at any depth, or undefined: a secret-looking key, or a
 * `{name, value}` pair whose name looks like one (the shape of BIOS settings, e.g.
 * `{name: "AdminPassword", value: …}`).
 */
export function findSecretPath(value: unknown, path: (string | number)[] = []): (string | number)[] | undefined {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findSecretPath(item, [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  if (!value || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.name === 'string' && isSecretKey(record.name) && 'value' in record) return [...path, 'value'];
  for (const [k, v] of Object.entries(record)) {
    if (isSecretKey(k)) return [...path, k];
    const found = findSecretPath(v, [...path, k]);
    if (found) return found;
  }
  return undefined;
}

const URL_IN_TEXT = /\bhttps?:\/\/[^\s"'<>]+/gi;

/**
 * An image URL as it may be shown: without its query string, fragment and user:password, where
 * pre-signed URLs (S3, Swift temp URLs) and basic credentials keep their secrets.
 */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  if (!url.search && !url.hash && !url.username && !url.password) return text;
  url.search = '';
  url.hash = '';
  url.username = '';
  url.password = '';
  return url.toString();
}

/** `text` with every http(s) URL in it redacted (error messages quoting a download URL). */
export function redactUrls(text: string): string {
  return text.replace(URL_IN_TEXT, redactUrl);
}

/** How tokens are kept at rest: they are long random strings, so a plain SHA-256 is enough. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
