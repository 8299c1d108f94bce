// Rules of reservations: how many nodes a window has left, and which changes a reservation in a
// given phase accepts. Pure, so the API (before it asks) and the reservation workflow (in its
// update validators, synchronously) apply the same rules.

export const RESERVATION_STATUSES = ['pending', 'active', 'ended', 'cancelled', 'refused'] as const;
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

/** Statuses whose nodes count against the capacity of their window. */
export const HOLDING_STATUSES: readonly ReservationStatus[] = ['pending', 'active'];

/** Where the reservation's workflow is: it sleeps until start, holds nodes, then gives them back. */
export type ReservationPhase = 'pending' | 'starting' | 'active' | 'ending' | 'ended';

export interface Window {
  start: number;
  end: number;
}

/** The most nodes the `windows` (each holding `count`) hold at once within `within`. */
export function peakDemand(windows: Array<Window & { count: number }>, within: Window): number {
  const edges: Array<[at: number, delta: number]> = [];
  for (const w of windows) {
    const start = Math.max(w.start, within.start);
    const end = Math.min(w.end, within.end);
    if (start < end) edges.push([start, w.count], [end, -w.count]);
  }
  // Ends before starts at the same instant: back-to-back windows do not overlap.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let held = 0;
  let peak = 0;
  for (const [, delta] of edges) {
    held += delta;
    peak = Math.max(peak, held);
  }
  return peak;
}

export interface Capacity {
  /** Nodes that could serve the reservation at all. */
  nodes: number;
  /** The most of them other reservations hold at once during the window. */
  reserved: number;
  /** How many the request lacks; 0 when it fits. */
  shortfall: number;
}

export function capacityFor(count: number, nodes: number, reserved: number): Capacity {
  return { nodes, reserved, shortfall: Math.max(0, count - (nodes - reserved)) };
}

/** Why a reservation in `phase` cannot end at `newEnd` (ms since the epoch), or undefined when it can. */
export function endChangeProblem(
  phase: ReservationPhase,
  start: number,
  newEnd: number,
  now: number,
): string | undefined {
  if (phase === 'ending' || phase === 'ended') return 'the reservation has already ended';
  if (newEnd <= start) return 'end_at must be after start_at';
  if (newEnd <= now) return 'end_at must be in the future';
  return undefined;
}

/** Why a reservation in `phase` cannot be cancelled, or undefined when it can. */
export function cancelProblem(phase: ReservationPhase, cancelled: boolean): string | undefined {
  if (cancelled) return 'the reservation is already being cancelled';
  if (phase === 'ending' || phase === 'ended') return 'the reservation has already ended';
  return undefined;
}
