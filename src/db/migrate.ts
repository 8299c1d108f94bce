import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Logger } from 'pino';

// Same relative path from src/db and dist/db: the SQL files are not compiled.
const MIGRATIONS_DIR = fileURLToPath(new URL('../../src/db/migrations', import.meta.url));

export async function migrate(databaseUrl: string, logger: Logger): Promise<void> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    logger: {
      debug: () => {},
      info: () => {},
      warn: (m: string) => logger.warn(m),
      error: (m: string) => logger.error(m),
    },
  });
  if (applied.length) logger.info({ migrations: applied.map((m) => m.name) }, 'database migrated');
}
