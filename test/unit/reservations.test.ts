// The reservation rules: the peak of overlapping windows, the shortfall, and which changes a
// reservation accepts in each phase (what the workflow's update validators answer).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cancelProblem, capacityFor, endChangeProblem, peakDemand } from '../../src/domain/reservations.js';

describe('reservation rules', () => {
  it('counts the most nodes held at once inside the window, back-to-back windows not overlapping', () => {
    const windows = [
      { start: 0, end: 10, count: 2 },
      { start: 5, end: 15, count: 1 },
      { start: 10, end: 20, count: 3 },
      { start: 30, end: 40, count: 9 },
    ];
    assert.equal(peakDemand(windows, { start: 0, end: 30 }), 4); // 10–15: the second and the third
    assert.equal(peakDemand(windows, { start: 0, end: 10 }), 3);
    assert.equal(peakDemand(windows, { start: 20, end: 30 }), 0);
    assert.equal(peakDemand([], { start: 0, end: 1 }), 0);
  });

  it('names the shortfall', () => {
    assert.deepEqual(capacityFor(3, 5, 1), { nodes: 5, reserved: 1, shortfall: 0 });
    assert.deepEqual(capacityFor(3, 5, 4), { nodes: 5, reserved: 4, shortfall: 2 });
    assert.deepEqual(capacityFor(2, 0, 0), { nodes: 0, reserved: 0, shortfall: 2 });
  });

  it('accepts a new end only before the reservation ends, after its start and in the future', () => {
    assert.equal(endChangeProblem('pending', 100, 200, 50), undefined);
    assert.equal(endChangeProblem('active', 100, 200, 150), undefined);
    assert.equal(endChangeProblem('active', 100, 90, 95), 'end_at must be after start_at');
    assert.equal(endChangeProblem('active', 100, 120, 150), 'end_at must be in the future');
    assert.equal(endChangeProblem('ending', 100, 500, 150), 'the reservation has already ended');
    assert.equal(cancelProblem('pending', false), undefined);
    assert.equal(cancelProblem('starting', false), undefined);
    assert.equal(cancelProblem('active', true), 'the reservation is already being cancelled');
    assert.equal(cancelProblem('ended', false), 'the reservation has already ended');
  });
});
