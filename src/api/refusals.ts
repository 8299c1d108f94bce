// Refused calls (a bad API token, an agent call with a wrong token or from the wrong address) go
// to the event log, where an admin looks for an attack. One event per refusal would let anyone
// with a loop fill the log and load the database, so they are rate-limited per source and
// coalesced: the first refusal of a source (address and what it tried) is recorded at once, later
// ones within the window are only counted, and at the window's end one event says how many came.
import { recordEvent, type NewEvent } from '../db/events.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../logger.js';

/** Sources tracked at once; beyond it (an attack from very many addresses) the rest share one count. */
const MAX_SOURCES = 10_000;
const OTHER_SOURCES = 'other sources';

interface Window {
  endsAt: number;
  /** Refusals seen in this window after the one recorded. */
  more: number;
  /** The event the window began with, for the summary. */
  first: NewEvent;
  source: string;
}

export class RefusalLog {
  private readonly windows = new Map<string, Window>();
  private readonly timer: NodeJS.Timeout;
  private writing = Promise.resolve();

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    private readonly windowSeconds: number,
  ) {
    // Checks a few times per window, so a summary is at most a fraction of a window late.
    this.timer = setInterval(() => this.closeEndedWindows(), (windowSeconds * 1000) / 4).unref();
  }

  /**
   * Records `event` (kind auth, severity error) for a refusal from `source`, unless one from the same
   * source and `what` was recorded within the window: then it is only counted. Never throws: a
   * refusal must be answered even when the database is away.
   */
  async refused(source: string, what: string, event: NewEvent, requestId?: string): Promise<void> {
    let key = `${source} ${what}`;
    if (!this.windows.has(key) && this.windows.size >= MAX_SOURCES) key = `${OTHER_SOURCES} ${what}`;
    const open = this.windows.get(key);
    if (open && open.endsAt > Date.now()) {
      open.more++;
      return;
    }
    if (open) this.summarise(open);
    this.windows.set(key, {
      endsAt: Date.now() + this.windowSeconds * 1000,
      more: 0,
      first: event,
      source: key.startsWith(OTHER_SOURCES) ? OTHER_SOURCES : source,
    });
    await this.write(event, requestId);
  }

  /** Writes the summaries of every window (at shutdown). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const window of this.windows.values()) this.summarise(window);
    this.windows.clear();
    await this.writing;
  }

  private closeEndedWindows(): void {
    const now = Date.now();
    for (const [key, window] of this.windows) {
      if (window.endsAt > now) continue;
      this.summarise(window);
      this.windows.delete(key);
    }
  }

  /** One event for the refusals a window counted without recording them. */
  private summarise(window: Window): void {
    if (window.more === 0) return;
    const { first, more, source } = window;
    const summary: NewEvent = {
      ...first,
      message: `${more} more like this from ${source} within ${this.windowSeconds} s (counted, not recorded one by one): ${first.message}`,
    };
    window.more = 0;
    this.writing = this.writing.then(() => this.write(summary));
  }

  private async write(event: NewEvent, requestId?: string): Promise<void> {
    try {
      await recordEvent(this.pool, { ...event, kind: 'auth', severity: 'error' }, { requestId });
    } catch (err) {
      this.logger.warn({ err }, 'could not record a refused call');
    }
  }
}
