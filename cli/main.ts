#!/usr/bin/env node
// kubetrail: one command for the services, the tools and the local stack.
//
// Exit codes (docs/operations.md#exit-codes): 0 success; 1 a failure at run time (Kafka, the
// registry or the API server unreachable or refusing, a check that found problems); 2 bad usage
// or configuration (an unknown command or option, a missing argument, a bad value, a setting
// that fails validation); 130 interrupted.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError } from '../lib/config.js';
import { redactText } from '../lib/redact.js';
import { registerStackCommand } from './stack.js';
import { registerProduceCommand } from './produce.js';
import { registerProcessCommand } from './process.js';
import { registerSinkCommand } from './sink.js';
import { registerSubscribeCommand } from './subscribe.js';
import { registerTopicsCommand } from './topics.js';
import { registerSchemasCommand } from './schemas.js';
import { registerReplayCommand } from './replay.js';
import { registerDemoCommand } from './demo.js';
import { registerDlqCommand } from './dlq.js';
import { registerCompletionCommand } from './completion.js';
import { packageVersion } from './version.js';
import { setBuildVersion } from '../lib/http.js';

export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

setBuildVersion(packageVersion());

const program = new Command();
program
  .name('kubetrail')
  .description('Kubernetes resource changes to Kafka, processed exactly once, with Avro schemas')
  .version(packageVersion(), '-V, --version', 'print the version')
  .showHelpAfterError()
  .exitOverride()
  .addHelpText('after', '\nExit codes: 0 done, 1 failure at run time, 2 bad usage or configuration, 130 interrupted.');

registerProduceCommand(program);
registerProcessCommand(program);
registerSinkCommand(program);
registerSubscribeCommand(program);
registerDlqCommand(program);
registerTopicsCommand(program);
registerSchemasCommand(program);
registerReplayCommand(program);
registerDemoCommand(program);
registerStackCommand(program);
registerCompletionCommand(program);

/** Every subcommand stops at its own usage errors too, instead of exiting with commander's code 1. */
function exitOverrideEverywhere(command: Command): void {
  command.exitOverride();
  for (const sub of command.commands) exitOverrideEverywhere(sub);
}
exitOverrideEverywhere(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // commander has printed its message; help and --version end with code 0.
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
  const usage = error instanceof ConfigError || error instanceof InvalidArgumentError;
  process.stderr.write(`kubetrail: ${redactText(error instanceof Error ? error.message : String(error))}\n`);
  process.exit(usage ? EXIT_USAGE : EXIT_RUNTIME);
}
