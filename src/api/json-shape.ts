// Limits on the shape of the JSON a caller sends. PostgreSQL cannot store a lone UTF-16
// surrogate ("\ud800") in jsonb, and a value nested thousands deep costs every later reader
// (patching, cloning, rendering), so both are refused with a 400 naming the field.
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { badRequest } from './errors.js';

/** How deep a free-form field (extra, driver_info, meta_data…) may nest: {} is 1, {"a": {}} is 2. */
export const MAX_FIELD_DEPTH = 32;
/** The whole body may add a few levels of its own around a field (a JSON Patch array and its operation). */
const MAX_BODY_DEPTH = MAX_FIELD_DEPTH + 4;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** How deep `value` nests, counted no further than `limit + 1` (so the walk itself stays shallow). */
export function jsonDepth(value: unknown, limit = MAX_FIELD_DEPTH): number {
  if (value === null || typeof value !== 'object') return 0;
  if (limit < 0) return 1;
  let deepest = 0;
  for (const child of Object.values(value)) {
    deepest = Math.max(deepest, jsonDepth(child, limit - 1));
    if (deepest > limit) break;
  }
  return deepest + 1;
}

const fieldName = (path: readonly string[]) => path.join('.') || 'body';

/** The first place in `value` that breaks the limits, as a 400 naming it; undefined when none does. */
function findShapeProblem(value: unknown, path: string[]): ReturnType<typeof badRequest> | undefined {
  if (typeof value === 'string') {
    return LONE_SURROGATE.test(value)
      ? badRequest(fieldName(path), 'text may not hold a lone UTF-16 surrogate such as \\ud800')
      : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  // Named by its first two levels: the field, or the field within a request object (configdrive.meta_data).
  if (path.length >= MAX_BODY_DEPTH)
    return badRequest(fieldName(path.slice(0, 2)), `nests deeper than ${MAX_FIELD_DEPTH} levels`);
  for (const [key, child] of Object.entries(value)) {
    if (LONE_SURROGATE.test(key))
      return badRequest(fieldName(path), 'a key may not hold a lone UTF-16 surrogate such as \\ud800');
    const problem = findShapeProblem(child, [...path, key]);
    if (problem) return problem;
  }
  return undefined;
}

/** After the JSON body parser: refuses lone surrogates anywhere in the body, and absurd nesting. */
export const checkJsonShape: RequestHandler = (req, _res, next) => {
  next(findShapeProblem(req.body, []));
};

/** A free-form JSON object field of at most `maxBytes` (as JSON) nesting at most MAX_FIELD_DEPTH levels. */
export function boundedJsonObject(maxBytes = 64 * 1024) {
  return z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    if (jsonDepth(value) > MAX_FIELD_DEPTH)
      ctx.addIssue({ code: 'custom', message: `nests deeper than ${MAX_FIELD_DEPTH} levels` });
    else if (Buffer.byteLength(JSON.stringify(value)) > maxBytes)
      ctx.addIssue({ code: 'custom', message: `is larger than ${maxBytes} bytes as JSON` });
  });
}
