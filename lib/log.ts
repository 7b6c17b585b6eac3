// Structured JSON logs (pino) for every service; kafkajs' own logs are routed through it. Every
// line passes through lib/redact.ts on its way out: no secret and no URL userinfo is ever written.
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { logLevel, type logCreator } from 'kafkajs';
import { redactText } from './redact.js';

export type { Logger };

/** pino options that make every written line pass through redactText. */
export const redactingHooks: NonNullable<LoggerOptions['hooks']> = { streamWrite: redactText };

/**
 * A service's logger: JSON lines on stderr (or the destination given), secrets redacted. stderr,
 * so that a command's data on stdout is never mixed with its logs; container runtimes collect both.
 */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options: LoggerOptions = { name, level, base: { service: name }, hooks: redactingHooks };
  return pino(options, destination ?? pino.destination({ fd: 2, sync: true }));
}

const kafkaLevels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** kafkajs logs through the service's logger, as one JSON line each, tagged component=kafkajs. */
/**
 * kafkajs logs every error response at error level, before the caller decides what it means.
 * CONCURRENT_TRANSACTIONS is expected (a transaction right after a commit, lib/kafka/
 * concurrent-transactions.ts retries it in milliseconds and counts it): debug, not error.
 */
function expected(extra: Record<string, unknown>): boolean {
  return typeof extra.error === 'string' && extra.error.startsWith('The producer attempted to update a transaction while another concurrent operation');
}

export function kafkaLogCreator(logger: Logger): logCreator {
  const child = logger.child({ component: 'kafkajs' });
  return () => ({ level, log }) => {
    const { message, timestamp: _timestamp, logger: _name, ...extra } = log;
    const method = expected(extra) ? 'debug' : (kafkaLevels[level] ?? 'info');
    child[method](extra, message);
  };
}
