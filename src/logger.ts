import pino from 'pino';

// Belt and braces: even if a secret reached a log call, these paths print as [Redacted].
const REDACT = ['*.password', '*.*_password', '*.driver_info', 'req.headers.authorization', '*.agent_token', '*.token'];

export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info') {
  return pino({ name, level, redact: REDACT });
}
export type Logger = pino.Logger;
