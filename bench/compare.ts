// Before/after on the same machine from one run of each: runs a benchmark on a git ref (exported
// into a temporary folder, sharing this checkout's node_modules when the lock file is the same),
// then on this checkout, back to back, and prints both outputs and their figures side by side.
//   npm run bench:compare -- --ref main bench/image-write.ts --mib 256
//   npm run bench:compare -- --ref 1da9895 bench/deploy.ts --nodes 10
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { table } from './table.js';

const program = new Command('bench:compare')
  .description('run a benchmark on a git ref, then on this checkout, and print the figures side by side')
  .requiredOption('--ref <git-ref>', 'the "before": a branch, tag or commit')
  .option('--keep', 'keep the exported ref in its temporary folder', false)
  .argument('<bench>', 'the benchmark script, e.g. bench/image-write.ts')
  .argument('[args...]', "the benchmark's own options, after the script")
  .passThroughOptions()
  .parse();
const { ref, keep } = program.opts<{ ref: string; keep: boolean }>();
const [bench, args] = program.processedArgs as [string, string[]];

const here = process.cwd();
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** Exports `ref` into a temporary folder wired to this checkout's installed tools. */
function exportRef(): string {
  const commit = execFileSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], { encoding: 'utf8' }).trim();
  const dir = mkdtempSync(path.join(os.tmpdir(), `tempered-compare-${commit.slice(0, 8)}-`));
  execFileSync('bash', ['-c', `git archive ${commit} | tar -x -C "${dir}"`], { stdio: 'inherit' });
  if (!existsSync(path.join(dir, bench))) throw new Error(`${bench} does not exist at ${ref} (${commit.slice(0, 8)})`);
  // The same lock file: the same packages, so the ref runs on this checkout's node_modules (scripts/
  // install-tools.sh installs them in the export otherwise). The Python tools are never versioned per ref.
  if (readFileSync(path.join(dir, 'package-lock.json'), 'utf8') === readFileSync('package-lock.json', 'utf8')) {
    symlinkSync(path.join(here, 'node_modules'), path.join(dir, 'node_modules'));
  }
  if (existsSync('.tools')) symlinkSync(path.join(here, '.tools'), path.join(dir, '.tools'));
  console.log(`${ref} is ${commit.slice(0, 12)}, exported to ${dir}`);
  return dir;
}

/** Runs the benchmark the way `npm run bench:*` does (install, build, run) in `dir`, echoing and returning its output. */
function runBench(dir: string, label: string): Promise<string> {
  console.log(`\n==> ${label}: ${bench} ${args.join(' ')} (load average ${load()})`);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['scripts/bench.sh', bench, ...args], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      output += text;
      process.stdout.write(text);
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`${label}: the benchmark exited with ${code}`)),
    );
  });
}

/**
 * The figures of a benchmark's output, by label: `label: value` lines, and rows of its tables
 * (first cell the label). A label seen again (a second table with the same rows) gets a #2.
 */
function figures(output: string): Map<string, string> {
  const found = new Map<string, string>();
  const add = (label: string, value: string) => {
    let key = label;
    for (let n = 2; found.has(key); n++) key = `${label} #${n}`;
    found.set(key, value);
  };
  for (const line of output.split('\n')) {
    const cells = line.split(/[│|]/).map((c) => c.trim());
    if (cells.length > 2 && cells[0] === '') {
      // A table row: its label, then its values (a header row has no digits and is skipped).
      const [label, ...values] = cells.slice(1, -1);
      if (label && values.some((v) => /\d/.test(v))) add(label, values.join('  '));
      continue;
    }
    const match = /^\s*([^:│|]{2,60}?):\s+(.*\d.*)$/.exec(line);
    if (match) add(match[1].trim(), match[2].trim());
  }
  return found;
}

const exported = exportRef();
try {
  const before = await runBench(exported, `before (${ref})`);
  const after = await runBench(here, 'after (this checkout)');
  const [b, a] = [figures(before), figures(after)];
  const labels = [...new Set([...b.keys(), ...a.keys()])];
  console.log(
    `\nSide by side: ${bench} ${args.join(' ')} — before ${ref}, after this checkout (load average ${load()})`,
  );
  console.log(
    table(
      ['figure', `before (${ref})`, 'after'],
      labels.map((label) => [label, b.get(label) ?? '—', a.get(label) ?? '—']),
    ),
  );
} finally {
  if (keep) console.log(`kept ${exported}`);
  else rmSync(exported, { recursive: true, force: true });
}
