// PATCH bodies as Ironic takes them: an RFC 6902 JSON Patch array, or an RFC 7386 merge-patch
// object, applied to the fields a caller may write.
import jsonPatchLib from 'fast-json-patch';
import mergePatch from 'json-merge-patch';
import { isSecretKey } from '../domain/secrets.js';
import { badRequest, parse } from './errors.js';
import { jsonPatch } from './schemas.js';

const { applyPatch, JsonPatchError } = jsonPatchLib;

function checkWritable(field: string, writable: readonly string[]): void {
  if (!writable.includes(field)) throw badRequest(field, `"${field}" cannot be changed with PATCH`);
}

/** The patched copy of `document`, or a 400 naming the field a bad operation touches. */
export function applyPatchBody(document: Record<string, unknown>, writable: readonly string[], body: unknown): Record<string, unknown> {
  if (Array.isArray(body)) {
    const operations = parse(jsonPatch, body, 'body');
    for (const op of operations) {
      checkWritable(op.path.split('/')[1], writable);
      if (op.from !== undefined) checkWritable(op.from.split('/')[1], writable);
      // Copying, moving or testing a secret would read it back through the response or the answer.
      const touched = [op.path, op.from ?? ''].flatMap((pointer) => pointer.split('/'));
      if (op.op !== 'add' && op.op !== 'replace' && op.op !== 'remove' && touched.some(isSecretKey)) {
        throw badRequest(op.path.slice(1).replaceAll('/', '.'), `"${op.op}" may not touch a secret`);
      }
    }
    try {
      return applyPatch(structuredClone(document), operations as jsonPatchLib.Operation[], true, false).newDocument;
    } catch (err) {
      if (err instanceof JsonPatchError) {
        throw badRequest(err.operation?.path?.slice(1).replaceAll('/', '.') || 'body', err.message.split('\n')[0]);
      }
      throw err;
    }
  }
  if (body && typeof body === 'object') {
    for (const field of Object.keys(body)) checkWritable(field, writable);
    return mergePatch.apply(structuredClone(document), body) as Record<string, unknown>;
  }
  throw badRequest('body', 'must be a JSON Patch array or a JSON merge-patch object');
}
