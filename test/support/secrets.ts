// A scan for secrets in text (logs, histories, responses) that also finds them disguised: inside a
// base64 Basic authorization header, base64 on its own, or URL-encoded.
import assert from 'node:assert/strict';

/** The forms a secret may take in a log line or a payload besides its plain text. */
function disguises(secret: string, username?: string): string[] {
  const forms = [
    secret,
    encodeURIComponent(secret),
    Buffer.from(secret).toString('base64'),
    Buffer.from(secret).toString('base64url'),
  ];
  if (username !== undefined) forms.push(Buffer.from(`${username}:${secret}`).toString('base64'));
  // A JSON-escaped copy of a secret with quotes or backslashes.
  forms.push(JSON.stringify(secret).slice(1, -1));
  return [...new Set(forms.filter((form) => form.length >= 6))];
}

/** Asserts that no secret, in any of its disguises, appears in `text`; `where` names the text in the failure. */
export function assertNoSecret(where: string, text: string, secrets: readonly string[], username?: string): void {
  // Decoded too: base64 runs in the text (Temporal payloads, Basic headers) may hide the secret itself.
  const decoded = [...text.matchAll(/[A-Za-z0-9+/_-]{12,}={0,2}/g)]
    .map((m) => Buffer.from(m[0], 'base64').toString('latin1'))
    .join('\n');
  for (const secret of secrets) {
    for (const form of disguises(secret, username)) {
      assert.ok(
        !text.includes(form),
        `a secret appears in ${where} (as ${form === secret ? 'plain text' : 'an encoded form'})`,
      );
    }
    assert.ok(!decoded.includes(secret), `a secret appears base64-encoded in ${where}`);
  }
}

/** A workflow history as text, its payloads (Uint8Array) decoded, as the Temporal UI shows them. */
export function historyText(history: unknown): string {
  return JSON.stringify(history, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v));
}
