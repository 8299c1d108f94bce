// The benchmarks' tables, drawn by cli-table3 with numbers right-aligned.
import Table from 'cli-table3';

export function table(head: string[], rows: string[][]): string {
  const t = new Table({
    head,
    colAligns: head.map((_, i) => (i === 0 ? 'left' : 'right')),
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  t.push(...rows);
  return t.toString();
}
