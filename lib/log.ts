// Structured JSON logs (pino) for every service; kafkajs' own logs are routed through it. Every
// line passes through lib/redact.ts on its way out: no secret and no URL userinfo is ever written.
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { logLevel, type logCreator } from 'kafkajs';
import { redactText } from './redact.js';

export type { Logger };

/** pino options that make every written line pass through redactText. */
export const redactingHooks: NonNullable<LoggerOptions['hooks']> = { streamWrite: redactText };

/** A service's logger: JSON lines on stdout (or the destination given), secrets redacted. */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options: LoggerOptions = { name, level, base: { service: name }, hooks: redactingHooks };
  return destination ? pino(options, destination) : pino(options);
}

const kafkaLevels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** kafkajs logs through the service's logger, as one JSON line each, tagged component=kafkajs. */
export function kafkaLogCreator(logger: Logger): logCreator {
  const child = logger.child({ component: 'kafkajs' });
  return () => ({ level, log }) => {
    const { message, timestamp: _timestamp, logger: _name, ...extra } = log;
    child[kafkaLevels[level] ?? 'info'](extra, message);
  };
}
