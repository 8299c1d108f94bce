// Output for people (tables) and for scripts (-o json).
import Table from 'cli-table3';

export type OutputFormat = 'table' | 'json';

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Rows as a table, or the raw objects as JSON. */
export function printList<T>(format: OutputFormat, rows: T[], columns: Column<T>[]): void {
  if (format === 'json') {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  const table = new Table({ head: columns.map((c) => c.header), style: { head: [], border: [] } });
  for (const row of rows) table.push(columns.map((c) => cell(c.value(row))));
  console.log(table.toString());
}

/** One object as a two-column field/value table, or as JSON. */
export function printObject(format: OutputFormat, object: Record<string, unknown>): void {
  if (format === 'json') {
    console.log(JSON.stringify(object, null, 2));
    return;
  }
  const table = new Table({
    head: ['field', 'value'],
    style: { head: [], border: [] },
    wordWrap: true,
    colWidths: [26, 90],
  });
  for (const [key, value] of Object.entries(object)) table.push([key, cell(value)]);
  console.log(table.toString());
}
