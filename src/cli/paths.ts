import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The repository root, from src/cli (tsx) and from dist/cli (compiled) alike. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DATA_DIR = path.join(ROOT, '.data');
export const TOOLS_BIN = path.join(ROOT, '.tools', 'venv', 'bin');

export function toolPath(name: string): string {
  const file = path.join(TOOLS_BIN, name);
  if (!existsSync(file))
    throw new Error(`${file} is missing; run "bash scripts/install-tools.sh" (npm start and npm test do)`);
  return file;
}

/** Compiled code runs .js files, tsx runs the .ts sources. */
export function sibling(fromUrl: string, relative: string): string {
  const ext = fromUrl.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`${relative}${ext}`, fromUrl));
}
