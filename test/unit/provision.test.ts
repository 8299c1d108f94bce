// Every state × event pair of the provision machine, against the design's diagram written out
// here independently of the table in src/domain.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  INTERNAL_EVENTS,
  IllegalTransition,
  PROVISION_STATES,
  VERBS,
  nextState,
  normalizeVerb,
  type ProvisionEvent,
  type ProvisionState,
} from '../../src/domain/provision.js';

// "state event -> next (target)"; every pair not listed must be refused.
const LEGAL = `
enroll manage -> verifying (manageable)
verifying done -> manageable
verifying fail -> enroll
manageable inspect -> inspecting (manageable)
manageable provide -> cleaning (available)
manageable clean -> cleaning (manageable)
inspecting done -> manageable
inspecting fail -> inspect failed
inspecting wait -> inspect wait (TARGET)
inspect wait resume -> inspecting (TARGET)
inspect wait fail -> inspect failed
inspect wait abort -> inspect failed
inspect failed manage -> manageable
inspect failed inspect -> inspecting (manageable)
cleaning done -> TARGET
cleaning fail -> clean failed
cleaning wait -> clean wait (TARGET)
clean wait resume -> cleaning (TARGET)
clean wait fail -> clean failed
clean wait abort -> clean failed
clean failed manage -> manageable
clean failed provide -> cleaning (available)
available manage -> manageable
available deploy -> deploying (active)
available boot -> available
deploying done -> active
deploying fail -> deploy failed
deploying wait -> wait call-back (TARGET)
wait call-back resume -> deploying (TARGET)
wait call-back fail -> deploy failed
wait call-back abort -> deploy failed
deploy failed manage -> manageable
deploy failed deploy -> deploying (active)
deploy failed rebuild -> deploying (active)
deploy failed undeploy -> deleting (available)
active rebuild -> deploying (active)
active undeploy -> deleting (available)
active quarantine -> quarantined
quarantined unquarantine -> active
quarantined undeploy -> deleting (manageable)
deleting done -> cleaning (TARGET)
deleting fail -> error
error rebuild -> deploying (active)
error undeploy -> deleting (available)
manageable adopt -> adopting (active)
adopting done -> active
adopting fail -> adopt failed
adopt failed adopt -> adopting (active)
adopt failed manage -> manageable
cleaning hold -> clean hold (TARGET)
clean hold unhold -> cleaning (TARGET)
clean hold fail -> clean failed
clean hold abort -> clean failed
active service -> servicing (active)
servicing done -> active
servicing fail -> service failed
servicing wait -> service wait (TARGET)
servicing hold -> service hold (TARGET)
service wait resume -> servicing (TARGET)
service wait fail -> service failed
service wait abort -> service failed
service hold unhold -> servicing (TARGET)
service hold fail -> service failed
service hold abort -> service failed
service failed service -> servicing (active)
service failed rescue -> rescuing (rescue)
service failed abort -> active
service failed undeploy -> deleting (available)
active rescue -> rescuing (rescue)
rescuing done -> rescue
rescuing fail -> rescue failed
rescuing wait -> rescue wait (TARGET)
rescue wait resume -> rescuing (TARGET)
rescue wait fail -> rescue failed
rescue wait abort -> rescue failed
rescue rescue -> rescuing (rescue)
rescue unrescue -> unrescuing (active)
rescue undeploy -> deleting (available)
rescue failed rescue -> rescuing (rescue)
rescue failed unrescue -> unrescuing (active)
rescue failed undeploy -> deleting (available)
unrescuing done -> active
unrescuing fail -> unrescue failed
unrescue failed rescue -> rescuing (rescue)
unrescue failed unrescue -> unrescuing (active)
unrescue failed undeploy -> deleting (available)
`;

const EVENTS: ProvisionEvent[] = [...VERBS, ...INTERNAL_EVENTS];
const LINE = new RegExp(
  `^(${PROVISION_STATES.join('|')}) (${EVENTS.join('|')}) -> ([a-z -]+?|TARGET)(?: \\(([a-z -]+|TARGET)\\))?$`,
);

const legal = new Map<string, { to: string; target: string | null }>();
for (const line of LEGAL.trim().split('\n')) {
  const match = LINE.exec(line);
  assert.ok(match, `bad expectation line: ${line}`);
  legal.set(`${match[1]}|${match[2]}`, { to: match[3], target: match[4] ?? null });
}

const plain = (provision_state: ProvisionState, target: ProvisionState | null = null) => ({
  provision_state,
  target_provision_state: target,
  maintenance: false,
  retired: false,
});

describe('provision state machine', () => {
  for (const state of PROVISION_STATES) {
    for (const event of EVENTS) {
      const expected = legal.get(`${state}|${event}`);
      // A node mid-operation carries the target its verb set; 'available' stands in for it.
      const target: ProvisionState = 'available';
      it(`${state} × ${event}: ${expected ? `→ ${expected.to}` : 'refused'}`, () => {
        if (!expected) {
          assert.throws(
            () => nextState(plain(state, target), event),
            (err: unknown) => {
              assert.ok(err instanceof IllegalTransition);
              assert.match(err.message, new RegExp(`"${state}"`));
              return true;
            },
          );
          return;
        }
        const next = nextState(plain(state, target), event);
        assert.equal(next.provision_state, expected.to === 'TARGET' ? target : expected.to);
        assert.equal(next.target_provision_state, expected.target === 'TARGET' ? target : expected.target);
      });
    }
  }

  it('ends manual cleaning in manageable and automated cleaning in available', () => {
    assert.equal(nextState(plain('cleaning', 'manageable'), 'done').provision_state, 'manageable');
    assert.equal(nextState(plain('cleaning', 'available'), 'done').provision_state, 'available');
  });

  it('never takes a quarantined node straight back to available', () => {
    let node = plain('quarantined');
    for (const event of ['undeploy', 'done', 'done'] as const) node = { ...node, ...nextState(node, event) };
    assert.equal(node.provision_state, 'manageable');
  });

  it('refuses automated verbs in maintenance but allows manage and quarantine', () => {
    const inMaintenance = (state: ProvisionState) => ({ ...plain(state), maintenance: true });
    assert.throws(() => nextState(inMaintenance('available'), 'deploy'), /maintenance/);
    assert.throws(() => nextState(inMaintenance('manageable'), 'provide'), /maintenance/);
    assert.throws(() => nextState(inMaintenance('available'), 'boot'), /maintenance/);
    assert.equal(nextState(inMaintenance('enroll'), 'manage').provision_state, 'verifying');
    assert.equal(nextState(inMaintenance('active'), 'quarantine').provision_state, 'quarantined');
  });

  it('lets a retired node not be provided, and cleans it back to manageable', () => {
    const retired = (state: ProvisionState, target: ProvisionState | null = null) => ({
      ...plain(state, target),
      retired: true,
    });
    assert.throws(() => nextState(retired('manageable'), 'provide'), /retired/);
    const deleting = nextState(retired('active'), 'undeploy');
    assert.deepEqual(deleting, { provision_state: 'deleting', target_provision_state: 'manageable' });
    assert.equal(nextState(retired('cleaning', 'manageable'), 'done').provision_state, 'manageable');
  });

  it('names the allowed verbs when it refuses one', () => {
    assert.throws(() => nextState(plain('enroll'), 'deploy'), /allowed: manage/);
    assert.throws(() => nextState(plain('deploying', 'active'), 'deploy'), /operation in progress/);
  });

  it("accepts Ironic's aliases active and deleted", () => {
    assert.equal(normalizeVerb('active'), 'deploy');
    assert.equal(normalizeVerb('deleted'), 'undeploy');
    assert.equal(normalizeVerb('explode'), undefined);
  });
});
