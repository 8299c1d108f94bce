// The whole provision state machine in one table, after ironic/common/states.py.
// Pure: no I/O. The API checks verbs against it before starting a workflow; activities
// apply it inside the transaction that writes the node row.

export const STABLE_STATES = ['enroll', 'manageable', 'available', 'active', 'quarantined', 'error', 'rescue'] as const;

export const TRANSIENT_STATES = [
  'verifying',
  'inspecting',
  'inspect wait',
  'cleaning',
  'clean wait',
  'clean hold',
  'deploying',
  'wait call-back',
  'deleting',
  'adopting',
  // Servicing and rescue (after Ironic: service wait/hold, rescue wait).
  'servicing',
  'service wait',
  'service hold',
  'rescuing',
  'rescue wait',
  'unrescuing',
] as const;

export const FAILED_STATES = [
  'inspect failed',
  'clean failed',
  'deploy failed',
  'adopt failed',
  'service failed',
  'rescue failed',
  'unrescue failed',
] as const;

export type ProvisionState =
  (typeof STABLE_STATES)[number] | (typeof TRANSIENT_STATES)[number] | (typeof FAILED_STATES)[number];

export const PROVISION_STATES: readonly ProvisionState[] = [...STABLE_STATES, ...TRANSIENT_STATES, ...FAILED_STATES];

/** Verbs a caller sends as `target` to PUT /v1/nodes/{id}/states/provision. */
export const VERBS = [
  'manage',
  'inspect',
  'provide',
  'clean',
  'deploy',
  'rebuild',
  'undeploy',
  'abort',
  'quarantine',
  'unquarantine',
  'boot',
  'adopt',
  'service',
  'unhold',
  'rescue',
  'unrescue',
] as const;
export type Verb = (typeof VERBS)[number];

/** Ironic's API names for some verbs. */
export const VERB_ALIASES: Readonly<Record<string, Verb>> = { active: 'deploy', deleted: 'undeploy' };

/** Events the running operation reports; never sent by callers. */
export const INTERNAL_EVENTS = ['done', 'fail', 'wait', 'resume', 'hold'] as const;
export type InternalEvent = (typeof INTERNAL_EVENTS)[number];
export type ProvisionEvent = Verb | InternalEvent;

/**
 * A transition. `to` is the next state; `target` is the stable state the operation is heading
 * for (shown as target_provision_state while it runs). `to: 'target'` means "the target recorded
 * when the operation began", which is how cleaning ends in available or manageable.
 */
interface Transition {
  to: ProvisionState | 'target';
  target?: ProvisionState;
}

const T = (to: Transition['to'], target?: ProvisionState): Transition => ({ to, target });

export const TRANSITIONS: Readonly<Record<ProvisionState, Partial<Record<ProvisionEvent, Transition>>>> = {
  enroll: { manage: T('verifying', 'manageable') },
  verifying: { done: T('manageable'), fail: T('enroll') },
  manageable: {
    inspect: T('inspecting', 'manageable'),
    provide: T('cleaning', 'available'),
    clean: T('cleaning', 'manageable'),
    // Adoption (see the block below).
    adopt: T('adopting', 'active'),
  },
  // Inspection (issue 16): out of band, then in band when it needs the agent, whose boot is the wait.
  inspecting: { done: T('manageable'), fail: T('inspect failed'), wait: T('inspect wait') },
  'inspect wait': { resume: T('inspecting'), fail: T('inspect failed'), abort: T('inspect failed') },
  'inspect failed': { manage: T('manageable'), inspect: T('inspecting', 'manageable') },
  cleaning: { done: T('target'), fail: T('clean failed'), wait: T('clean wait'), hold: T('clean hold') },
  'clean wait': { resume: T('cleaning'), fail: T('clean failed'), abort: T('clean failed') },
  // A manual clean's `deploy.hold` step (Ironic 1.85) parks the node here until an operator's unhold.
  'clean hold': { unhold: T('cleaning'), fail: T('clean failed'), abort: T('clean failed') },
  'clean failed': { manage: T('manageable'), provide: T('cleaning', 'available') },
  available: {
    manage: T('manageable'),
    deploy: T('deploying', 'active'),
    // Fast-track boot: the node stays available while its agent boots and heartbeats.
    boot: T('available'),
  },
  deploying: { done: T('active'), fail: T('deploy failed'), wait: T('wait call-back') },
  'wait call-back': { resume: T('deploying'), fail: T('deploy failed'), abort: T('deploy failed') },
  'deploy failed': {
    manage: T('manageable'),
    deploy: T('deploying', 'active'),
    rebuild: T('deploying', 'active'),
    undeploy: T('deleting', 'available'),
  },
  active: {
    rebuild: T('deploying', 'active'),
    undeploy: T('deleting', 'available'),
    quarantine: T('quarantined'),
    service: T('servicing', 'active'),
    rescue: T('rescuing', 'rescue'),
  },
  quarantined: {
    unquarantine: T('active'),
    // A quarantined machine is suspect: after cleaning an operator must look at it again.
    undeploy: T('deleting', 'manageable'),
  },
  deleting: { done: T('cleaning'), fail: T('error') },
  error: { rebuild: T('deploying', 'active'), undeploy: T('deleting', 'available') },

  // Adoption (Ironic's adopt): a machine already running its OS is taken over as active after its
  // BMC answers, without booting the ramdisk or touching the disk. A failed one may be retried or managed.
  adopting: { done: T('active'), fail: T('adopt failed') },
  'adopt failed': { adopt: T('adopting', 'active'), manage: T('manageable') },

  // Servicing (Ironic 1.87): service steps on an active node, back to active. A `hold` step parks
  // the node in service hold until an operator's unhold; abort from there or from service wait fails it.
  servicing: { done: T('active'), fail: T('service failed'), wait: T('service wait'), hold: T('service hold') },
  'service wait': { resume: T('servicing'), fail: T('service failed'), abort: T('service failed') },
  'service hold': { unhold: T('servicing'), fail: T('service failed'), abort: T('service failed') },
  // As Ironic: a failed service is retried, rescued, given up on (abort: the instance is still there), or undeployed.
  'service failed': {
    service: T('servicing', 'active'),
    rescue: T('rescuing', 'rescue'),
    abort: T('active'),
    undeploy: T('deleting', 'available'),
  },

  // Rescue (Ironic 1.38): the agent's ramdisk boots with the tenant's rescue password; unrescue boots the instance again.
  rescuing: { done: T('rescue'), fail: T('rescue failed'), wait: T('rescue wait') },
  'rescue wait': { resume: T('rescuing'), fail: T('rescue failed'), abort: T('rescue failed') },
  rescue: {
    rescue: T('rescuing', 'rescue'),
    unrescue: T('unrescuing', 'active'),
    undeploy: T('deleting', 'available'),
  },
  'rescue failed': {
    rescue: T('rescuing', 'rescue'),
    unrescue: T('unrescuing', 'active'),
    undeploy: T('deleting', 'available'),
  },
  unrescuing: { done: T('active'), fail: T('unrescue failed') },
  'unrescue failed': {
    rescue: T('rescuing', 'rescue'),
    unrescue: T('unrescuing', 'active'),
    undeploy: T('deleting', 'available'),
  },
};

/** Verbs that only move a node between states and never drive its hardware on their own. */
const BOOKKEEPING_VERBS: ReadonlySet<Verb> = new Set<Verb>(['manage', 'abort', 'quarantine', 'unquarantine', 'unhold']);

/** Verbs that make the machine act on its own; refused while the node is in maintenance. */
export const AUTOMATED_VERBS: ReadonlySet<Verb> = new Set(VERBS.filter((verb) => !BOOKKEEPING_VERBS.has(verb)));

/** States in which a node record may be deleted (nothing is running, no tenant owns it). */
export const DELETABLE_STATES: ReadonlySet<ProvisionState> = new Set<ProvisionState>([
  'enroll',
  'manageable',
  'available',
  'inspect failed',
  'clean failed',
  'adopt failed',
]);

export interface NodeFlags {
  provision_state: ProvisionState;
  target_provision_state: ProvisionState | null;
  maintenance: boolean;
  retired: boolean;
}

export interface NextState {
  provision_state: ProvisionState;
  target_provision_state: ProvisionState | null;
}

export class IllegalTransition extends Error {
  constructor(
    message: string,
    readonly state: ProvisionState,
    readonly event: ProvisionEvent,
  ) {
    super(message);
    this.name = 'IllegalTransition';
  }
}

export function isVerb(value: string): value is Verb {
  return (VERBS as readonly string[]).includes(value);
}

export function normalizeVerb(value: string): Verb | undefined {
  return VERB_ALIASES[value] ?? (isVerb(value) ? value : undefined);
}

export function allowedEvents(state: ProvisionState): ProvisionEvent[] {
  return Object.keys(TRANSITIONS[state]) as ProvisionEvent[];
}

export function allowedVerbs(state: ProvisionState): Verb[] {
  return allowedEvents(state).filter((e): e is Verb => isVerb(e));
}

/**
 * Where `event` takes a node, or an IllegalTransition naming the current state.
 * Flags are rules on top of the table: maintenance stops automated verbs, a retired node
 * cannot be provided and its cleaning ends in manageable.
 */
export function nextState(node: NodeFlags, event: ProvisionEvent): NextState {
  const state = node.provision_state;
  const transition = TRANSITIONS[state][event];
  if (!transition) {
    const verbs = allowedVerbs(state);
    throw new IllegalTransition(
      `cannot ${event} a node in state "${state}"` +
        (verbs.length ? `; allowed: ${verbs.join(', ')}` : '; it has an operation in progress'),
      state,
      event,
    );
  }
  if (isVerb(event) && node.maintenance && AUTOMATED_VERBS.has(event)) {
    throw new IllegalTransition(`cannot ${event} a node in maintenance (state "${state}")`, state, event);
  }
  if (event === 'provide' && node.retired) {
    throw new IllegalTransition(`cannot provide a retired node (state "${state}")`, state, event);
  }

  let target = transition.target ?? node.target_provision_state;
  if (target === 'available' && node.retired) target = 'manageable';

  const to = transition.to === 'target' ? target : transition.to;
  if (!to) throw new IllegalTransition(`node in "${state}" has no target state`, state, event);
  const transient = (TRANSIENT_STATES as readonly string[]).includes(to);
  return { provision_state: to, target_provision_state: transient ? target : null };
}
