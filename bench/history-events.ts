// How many events an operation wrote to its workflow's history, by kind: each is a round trip
// through the Temporal server (or, for local-activity markers, a write), so fewer means faster.
//   node --import tsx bench/history-events.ts --address 127.0.0.1:7233 [--namespace default] node/<uuid> ...
// Benchmarks import historyEvents() and print the figures per deploy.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { Client, Connection } from '@temporalio/client';

export interface HistoryEvents {
  total: number;
  /** Activities scheduled through the server's task queues (three events each). */
  activities: number;
  /** Local activities, recorded as one marker each. */
  localActivities: number;
  workflowTasks: number;
  timers: number;
  signals: number;
  /** Milliseconds the run spent, summed over its events: the part of its time each kind of wait took. */
  time: HistoryTime;
}

export interface HistoryTime {
  /** Workflow tasks scheduled until a worker took them: the worker busy, or the server slow to hand out. */
  workflowTasksQueued: number;
  /** Workflow tasks taken until completed, with the local activities they ran. */
  workflowTasksRunning: number;
  /** Activities scheduled until a worker took them. */
  activitiesQueued: number;
  /** Activities running: BMC and agent calls, including what the hardware took. */
  activitiesRunning: number;
  /** Durable sleeps. */
  timers: number;
}

type HistoryEvent = NonNullable<
  Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']
>[number];

const eventMs = (event: HistoryEvent) =>
  Number(event.eventTime?.seconds ?? 0) * 1000 + Number(event.eventTime?.nanos ?? 0) / 1e6;

function historyTime(events: HistoryEvent[]): HistoryTime {
  const byId = new Map(events.map((e) => [Number(e.eventId), e]));
  /** The time between each ending event and the event it names as its start, summed. */
  const timeBetween = (startOf: (e: HistoryEvent) => unknown) => {
    let total = 0;
    for (const event of events) {
      const start = byId.get(Number(startOf(event) ?? NaN));
      if (start) total += eventMs(event) - eventMs(start);
    }
    return total;
  };
  return {
    workflowTasksQueued: timeBetween((e) => e.workflowTaskStartedEventAttributes?.scheduledEventId),
    workflowTasksRunning: timeBetween((e) => e.workflowTaskCompletedEventAttributes?.startedEventId),
    activitiesQueued: timeBetween((e) => e.activityTaskStartedEventAttributes?.scheduledEventId),
    activitiesRunning: timeBetween(
      (e) =>
        e.activityTaskCompletedEventAttributes?.startedEventId ??
        e.activityTaskFailedEventAttributes?.startedEventId ??
        e.activityTaskTimedOutEventAttributes?.startedEventId,
    ),
    timers: timeBetween((e) => e.timerFiredEventAttributes?.startedEventId),
  };
}

/** The event counts of the workflow's run (`runId`, or its latest run). */
export async function historyEvents(client: Client, workflowId: string, runId?: string): Promise<HistoryEvents> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const events = history.events ?? [];
  const count = (attribute: keyof (typeof events)[number]) => events.filter((e) => e[attribute]).length;
  return {
    total: events.length,
    activities: count('activityTaskScheduledEventAttributes'),
    localActivities: count('markerRecordedEventAttributes'),
    workflowTasks: count('workflowTaskScheduledEventAttributes'),
    timers: count('timerStartedEventAttributes'),
    signals: count('workflowExecutionSignaledEventAttributes'),
    time: historyTime(events),
  };
}

/** The mean over `runs` of the time each kind of wait took, in ms. */
export function formatHistoryTime(runs: HistoryEvents[]): string {
  const mean = (key: keyof HistoryTime) => (runs.reduce((sum, r) => sum + r.time[key], 0) / runs.length).toFixed(0);
  return (
    `workflow tasks queued ${mean('workflowTasksQueued')}, running ${mean('workflowTasksRunning')} ` +
    `(with their local activities); activities queued ${mean('activitiesQueued')}, running ${mean('activitiesRunning')}; ` +
    `timers ${mean('timers')}`
  );
}

/** One line: the mean of each count over `runs`. */
export function formatHistoryEvents(runs: HistoryEvents[]): string {
  const mean = (key: Exclude<keyof HistoryEvents, 'time'>) =>
    (runs.reduce((sum, r) => sum + r[key], 0) / runs.length).toFixed(1);
  return (
    `${mean('total')} (activities ${mean('activities')}, local activities ${mean('localActivities')}, ` +
    `workflow tasks ${mean('workflowTasks')}, timers ${mean('timers')}, signals ${mean('signals')})`
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      address: { type: 'string', default: '127.0.0.1:7233' },
      namespace: { type: 'string', default: 'default' },
    },
  });
  if (positionals.length === 0) {
    console.error('usage: bench/history-events.ts [--address host:port] [--namespace ns] <workflow id>...');
    process.exit(2);
  }
  const connection = await Connection.connect({ address: values.address });
  const client = new Client({ connection, namespace: values.namespace });
  const runs = [];
  for (const workflowId of positionals) {
    const counts = await historyEvents(client, workflowId);
    console.log(`${workflowId}: ${formatHistoryEvents([counts])}\n  ms: ${formatHistoryTime([counts])}`);
    runs.push(counts);
  }
  if (runs.length > 1) console.log(`mean: ${formatHistoryEvents(runs)}\n  ms: ${formatHistoryTime(runs)}`);
  await connection.close();
}
