import pino from 'pino';

// Belt and braces: even if a credential reached a log call, these print as [Redacted]. Pino's
// wildcards stand for one whole key at one level, so each place is spelled out.
const SECRET_KEYS = [
  'password',
  'token',
  'agent_token',
  'driver_info',
  'configdrive',
  'redfish_password',
  'ipmi_password',
];
const REDACT = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((key) => `*.${key}`),
  ...SECRET_KEYS.map((key) => `*.*.${key}`),
  'req.headers.authorization',
  'req.headers["x-auth-token"]',
  'req.headers["x-agent-token"]',
  'err.where',
  'err.detail',
];

export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info') {
  return pino({ name, level, redact: REDACT });
}
export type Logger = pino.Logger;
