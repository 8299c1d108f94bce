// PATCH bodies as Ironic takes them: an RFC 6902 JSON Patch array, or an RFC 7386 merge-patch
// object, applied to the fields a caller may write. Secrets are write-only through PATCH: no
// operation may read one (copy, move or test), and the caller learns which stored secrets the
// body left as they were, so a route can ask for one again.
import { randomUUID } from 'node:crypto';
import jsonPatchLib from 'fast-json-patch';
import mergePatch from 'json-merge-patch';
import { containsSecret, isSecretKey } from '../domain/secrets.js';
import { badRequest, parse } from './errors.js';
import { jsonPatch } from './schemas.js';

const { applyPatch, getValueByPointer, JsonPatchError } = jsonPatchLib;

function checkWritable(field: string, writable: readonly string[]): void {
  if (!writable.includes(field)) throw badRequest(field, `"${field}" cannot be changed with PATCH`);
}

const fieldOf = (pointer: string) => pointer.slice(1).replaceAll('/', '.') || 'body';

/** The value `pointer` names in `document`, or undefined when it names nothing. */
function valueAt(document: Record<string, unknown>, pointer: string): unknown {
  try {
    return getValueByPointer(document, pointer);
  } catch {
    return undefined;
  }
}

/**
 * Stand-ins for the stored secrets while the body is applied: each secret is swapped for a marker
 * no caller can know, and swapped back where it stayed. A marker found anywhere else means a
 * secret would have been copied out; a marker left in place means the body did not set it again.
 */
class SecretStandIns {
  private readonly stored = new Map<string, unknown>();
  private readonly marker = `\u0000stored-secret:${randomUUID()}:`;

  hide(value: unknown, path: string[] = []): unknown {
    if (Array.isArray(value)) return value.map((item, i) => this.hide(item, [...path, String(i)]));
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => {
          if (!isSecretKey(k) || v == null || v === '') return [k, this.hide(v, [...path, k])];
          const at = [...path, k].join('.');
          this.stored.set(at, v);
          return [k, `${this.marker}${at}`];
        }),
      );
    }
    return value;
  }

  /** The document with each secret back where it was; `kept` collects the dotted paths of secrets left as stored. */
  restore(value: unknown, kept: Set<string>, path: string[] = []): unknown {
    if (typeof value === 'string' && value.startsWith(this.marker)) {
      const at = value.slice(this.marker.length);
      if (at !== path.join('.')) throw badRequest(path.join('.'), 'a stored secret cannot be copied');
      kept.add(at);
      return this.stored.get(at);
    }
    if (Array.isArray(value)) return value.map((item, i) => this.restore(item, kept, [...path, String(i)]));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.restore(v, kept, [...path, k])]));
    }
    return value;
  }
}

export interface PatchResult {
  document: Record<string, unknown>;
  /** Dotted paths (e.g. driver_info.redfish_password) of stored secrets the body left as they were. */
  keptSecrets: ReadonlySet<string>;
}

/** The patched copy of `document`, or a 400 naming the field a bad operation touches. */
export function applyPatchBody(
  document: Record<string, unknown>,
  writable: readonly string[],
  body: unknown,
): Record<string, unknown> {
  return applyPatchKeepingSecrets(document, writable, body).document;
}

/** As applyPatchBody, also telling which stored secrets the body left as they were. */
export function applyPatchKeepingSecrets(
  document: Record<string, unknown>,
  writable: readonly string[],
  body: unknown,
): PatchResult {
  const standIns = new SecretStandIns();
  const hidden = standIns.hide(document) as Record<string, unknown>;
  let patched: Record<string, unknown>;
  if (Array.isArray(body)) {
    const operations = parse(jsonPatch, body, 'body');
    for (const op of operations) {
      checkWritable(op.path.split('/')[1], writable);
      if (op.from !== undefined) checkWritable(op.from.split('/')[1], writable);
      // Copying, moving or testing a secret (or an object holding one, such as /driver_info) would
      // read it back through the response, or answer yes or no to a guess.
      const read = op.op === 'test' ? op.path : op.op === 'copy' || op.op === 'move' ? op.from : undefined;
      if (read !== undefined && (read.split('/').some(isSecretKey) || containsSecret(valueAt(document, read)))) {
        throw badRequest(fieldOf(read), `"${op.op}" may not read a secret or an object holding one`);
      }
    }
    try {
      patched = applyPatch(hidden, operations as jsonPatchLib.Operation[], true, false).newDocument;
    } catch (err) {
      if (err instanceof JsonPatchError)
        throw badRequest(fieldOf(err.operation?.path ?? ''), err.message.split('\n')[0]);
      throw err;
    }
  } else if (body && typeof body === 'object') {
    for (const field of Object.keys(body)) checkWritable(field, writable);
    patched = mergePatch.apply(hidden, body) as Record<string, unknown>;
  } else {
    throw badRequest('body', 'must be a JSON Patch array or a JSON merge-patch object');
  }
  const keptSecrets = new Set<string>();
  return { document: standIns.restore(patched, keptSecrets) as Record<string, unknown>, keptSecrets };
}
