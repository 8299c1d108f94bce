// Inspection rules, after Ironic's: conditions on what inspection found → actions on the node,
// applied in priority order (higher first, then oldest first) once an inspection has its inventory.
// Values may name what was found: "{inventory[cpu][count]}" or "{node.resource_class}"; a string
// that is only such a reference keeps the type of what it names, one with text around it is text.
// Pure: the API validates rules with these schemas, an activity applies them.
import { z } from 'zod';
import type { HardwareInventory } from './inventory.js';

const MAX_TEXT = 4096;
const jsonValue: z.ZodType<unknown> = z.unknown().refine((value) => value !== undefined, 'is required');

const regex = z
  .string()
  .min(1)
  .max(255)
  .refine((pattern) => {
    try {
      new RegExp(pattern);
      return true;
    } catch {
      return false;
    }
  }, 'must be a valid (JavaScript) regular expression');

/** Comparisons take two or more values: `args: [a, b]` or `args: {values: [a, b]}`. */
const compared = z.union([
  z.array(jsonValue).min(2).max(16),
  z.strictObject({ values: z.array(jsonValue).min(2).max(16) }).transform(({ values }) => values),
]);
const single = z.strictObject({ value: jsonValue });
const CONDITION_ARGS = {
  eq: compared,
  lt: compared,
  gt: compared,
  'is-empty': single,
  'is-none': single,
  'is-true': single,
  'is-false': single,
  matches: z.strictObject({ value: jsonValue, regex }),
  contains: z.strictObject({ value: jsonValue, regex }),
  'one-of': z.strictObject({ value: jsonValue, values: z.array(jsonValue).min(1).max(256) }),
} as const;
type ConditionOp = keyof typeof CONDITION_ARGS;
export const CONDITION_OPS = Object.keys(CONDITION_ARGS) as ConditionOp[];

/** Where set-attribute may write: the scheduling fields inspection is about, never credentials or state. */
const ATTRIBUTE_PATH = /^\/(resource_class|(properties|extra)(\/[^/]+)+)$/;
const traitName = z
  .string()
  .max(255)
  .regex(/^[A-Z][A-Z0-9_]*$/, 'must be an upper-case trait name such as CUSTOM_GPU');
const ACTION_ARGS = {
  'set-attribute': z.strictObject({
    path: z
      .string()
      .regex(ATTRIBUTE_PATH, 'must be /resource_class, /properties/<key>… or /extra/<key>…')
      .refine((path) => !/\/properties\/root_device\b/.test(path) || path === '/properties/root_device', {
        message: 'root device hints are set whole: /properties/root_device',
      }),
    value: jsonValue,
  }),
  'add-trait': z.strictObject({ name: traitName }),
  'remove-trait': z.strictObject({ name: traitName }),
  fail: z.strictObject({ message: z.string().min(1).max(MAX_TEXT) }),
} as const;
type ActionOp = keyof typeof ACTION_ARGS;
export const ACTION_OPS = Object.keys(ACTION_ARGS) as ActionOp[];

/** `op` may start with "!" to invert the condition, as in Ironic. */
const condition = z.strictObject({ op: z.string(), args: z.unknown() }).transform((value, ctx) => {
  const inverted = value.op.startsWith('!');
  const op = value.op.replace(/^!/, '') as ConditionOp;
  if (!Object.hasOwn(CONDITION_ARGS, op)) {
    ctx.addIssue({
      code: 'custom',
      path: ['op'],
      message: `must be one of ${CONDITION_OPS.join(', ')} (with ! to invert)`,
    });
    return z.NEVER;
  }
  const args = CONDITION_ARGS[op].safeParse(value.args);
  if (!args.success) {
    for (const issue of args.error.issues) ctx.addIssue({ ...issue, path: ['args', ...issue.path] } as never);
    return z.NEVER;
  }
  return { op: value.op, args: value.args, check: { op, inverted, args: args.data } };
});

const action = z.strictObject({ op: z.string(), args: z.unknown() }).superRefine((value, ctx) => {
  if (!Object.hasOwn(ACTION_ARGS, value.op)) {
    ctx.addIssue({ code: 'custom', path: ['op'], message: `must be one of ${ACTION_OPS.join(', ')}` });
    return;
  }
  const args = ACTION_ARGS[value.op as ActionOp].safeParse(value.args);
  if (!args.success)
    for (const issue of args.error.issues) ctx.addIssue({ ...issue, path: ['args', ...issue.path] } as never);
});

/** What a caller writes (POST, and a PATCH's result); conditions and actions are kept as written. */
export const inspectionRuleFields = z.strictObject({
  description: z.string().max(255).nullable().default(null),
  priority: z.number().int().min(0).max(9999).default(0),
  conditions: z
    .array(condition)
    .max(32)
    .default([])
    .transform((conditions) => conditions.map(({ op, args }) => ({ op, args }))),
  actions: z.array(action).min(1, 'must hold at least one action').max(32),
});
export type InspectionRuleFields = z.infer<typeof inspectionRuleFields>;

export interface InspectionRule extends InspectionRuleFields {
  uuid: string;
}

/** The node as rules read and change it. */
export interface RuleNode {
  uuid: string;
  name: string | null;
  driver: string;
  resource_class: string | null;
  properties: Record<string, unknown>;
  extra: Record<string, unknown>;
  traits: string[];
}

export interface RuleData {
  inventory: HardwareInventory;
  plugin_data: Record<string, unknown>;
}

export interface RulesOutcome {
  node: RuleNode;
  /** The rules whose conditions held, in the order applied. */
  matched: string[];
  /** A `fail` action's message: the inspection fails and nothing of it is applied. */
  failure?: string;
}

const REFERENCE = /\{(inventory|plugin_data|node)((?:\[[^\]{}]*\]|\.[A-Za-z_]\w*)*)\}/g;

function lookup(root: unknown, path: string): unknown {
  let value = root;
  for (const [, key, attribute] of path.matchAll(/\[([^\]]*)\]|\.(\w+)/g)) {
    if (value === null || typeof value !== 'object') return undefined;
    const name = key ?? attribute;
    value = Array.isArray(value) && /^\d+$/.test(name) ? value[Number(name)] : (value as Record<string, unknown>)[name];
  }
  return value;
}

/** `value` with its references to what was found filled in (strings at any depth). */
function resolve(value: unknown, scope: Record<string, unknown>): unknown {
  if (typeof value === 'string') {
    const whole = /^\{(inventory|plugin_data|node)((?:\[[^\]{}]*\]|\.[A-Za-z_]\w*)*)\}$/.exec(value);
    if (whole) return lookup(scope[whole[1]], whole[2]);
    return value.replace(REFERENCE, (_match, root: string, path: string) => {
      const found = lookup(scope[root], path);
      return found === undefined || found === null
        ? ''
        : typeof found === 'object'
          ? JSON.stringify(found)
          : String(found);
    });
  }
  if (Array.isArray(value)) return value.map((item) => resolve(item, scope));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, scope)]));
  return value;
}

const isEmpty = (value: unknown) =>
  value === undefined ||
  value === null ||
  value === '' ||
  (Array.isArray(value) && value.length === 0) ||
  (typeof value === 'object' && value !== null && Object.keys(value).length === 0);
const truthy = (value: unknown) => value === true || (typeof value === 'string' && /^(true|yes|1|on)$/i.test(value));
const falsy = (value: unknown) => value === false || (typeof value === 'string' && /^(false|no|0|off)$/i.test(value));
const text = (value: unknown) => (typeof value === 'string' ? value : (JSON.stringify(value) ?? '')).slice(0, MAX_TEXT);

function inOrder(values: unknown[], holds: (a: number, b: number) => boolean): boolean {
  const numbers = values.map(Number);
  return numbers.every((n) => !Number.isNaN(n)) && numbers.every((n, i) => i === 0 || holds(numbers[i - 1], n));
}

function conditionHolds(raw: { op: string; args: unknown }, scope: Record<string, unknown>): boolean {
  const parsed = condition.parse(raw).check;
  const args = resolve(parsed.args, scope) as any;
  const result = (() => {
    switch (parsed.op) {
      case 'eq':
        return (args as unknown[]).every((v) => JSON.stringify(v) === JSON.stringify(args[0]));
      case 'lt':
        return inOrder(args, (a, b) => a < b);
      case 'gt':
        return inOrder(args, (a, b) => a > b);
      case 'is-empty':
        return isEmpty(args.value);
      case 'is-none':
        return args.value === undefined || args.value === null;
      case 'is-true':
        return truthy(args.value);
      case 'is-false':
        return falsy(args.value);
      case 'matches':
        return new RegExp(`^(?:${args.regex})$`).test(text(args.value));
      case 'contains':
        return new RegExp(args.regex).test(text(args.value));
      case 'one-of':
        return (args.values as unknown[]).some((v) => JSON.stringify(v) === JSON.stringify(args.value));
    }
  })();
  return parsed.inverted ? !result : result;
}

/** Sets `value` at a /properties/… or /extra/… path, creating the objects on the way. */
function setAt(node: RuleNode, path: string, value: unknown): void {
  if (path === '/resource_class') {
    node.resource_class = value === null || value === undefined ? null : String(value).slice(0, 80);
    return;
  }
  const [field, ...keys] = path.slice(1).split('/') as ['properties' | 'extra', ...string[]];
  // `node` is the rule's own copy already (see applyInspectionRules).
  let target: Record<string, unknown> = node[field];
  for (const key of keys.slice(0, -1)) {
    const next = target[key];
    target = target[key] =
      next && typeof next === 'object' && !Array.isArray(next) ? (next as Record<string, unknown>) : {};
  }
  if (value === undefined) delete target[keys[keys.length - 1]];
  else target[keys[keys.length - 1]] = value;
}

/** Applies the rules (sorted by the caller: priority, higher first) to a copy of `node`. */
export function applyInspectionRules(rules: readonly InspectionRule[], node: RuleNode, data: RuleData): RulesOutcome {
  let current: RuleNode = structuredClone(node);
  const matched: string[] = [];
  for (const rule of rules) {
    const scope = { ...data, node: current };
    if (!rule.conditions.every((c) => conditionHolds(c, scope))) continue;
    matched.push(rule.uuid);
    const next = structuredClone(current);
    for (const { op, args: rawArgs } of rule.actions) {
      const args = rawArgs as Record<string, any>;
      if (op === 'fail')
        return { node, matched, failure: `inspection rule ${rule.uuid}: ${text(resolve(args.message, scope))}` };
      if (op === 'set-attribute') setAt(next, args.path, resolve(args.value, scope));
      if (op === 'add-trait' && !next.traits.includes(args.name)) next.traits = [...next.traits, args.name];
      if (op === 'remove-trait') next.traits = next.traits.filter((t) => t !== args.name);
    }
    current = next;
  }
  return { node: current, matched };
}
