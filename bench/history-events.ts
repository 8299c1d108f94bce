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
  };
}

/** One line: the mean of each count over `runs`. */
export function formatHistoryEvents(runs: HistoryEvents[]): string {
  const mean = (key: keyof HistoryEvents) => (runs.reduce((sum, r) => sum + r[key], 0) / runs.length).toFixed(1);
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
    console.log(`${workflowId}: ${formatHistoryEvents([counts])}`);
    runs.push(counts);
  }
  if (runs.length > 1) console.log(`mean: ${formatHistoryEvents(runs)}`);
  await connection.close();
}
