// `--config FILE`: a command's flags from a YAML file (the `yaml` package, YAML 1.2 core schema).
//
// The keys are the command's long flags without `--` (`asap-port`, `max-pes`, `peer`), taken
// from the commander options themselves, so a flag added to the command is a key at once. A
// value is the text an operator would type after the flag (the scalar as written: `0x1111`,
// `off`, `3863`) and goes through that option's own parser, so the file is validated exactly as
// the command line is. A flag without a value takes `true` or `false`; a repeatable flag (one
// whose default is a list) takes a list, or one value. Precedence: command line, then the
// environment (an option with an environment variable), then the file, then the defaults; a
// repeatable flag given on the command line replaces the file's list. Anything wrong in the
// file (unreadable, not YAML, not a mapping, an unknown key, a bad value) is one error that
// names the file, the line and the key, and the command exits non-zero without starting.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';

/** The flag that names the file; it is no key of the file itself. */
export const CONFIG_FLAG = '--config';

/** A config file that cannot be used: the message names the file, the line and the key. */
export class ConfigFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigFileError';
  }
}

/** One key of the file, its value parsed by the option it names. */
export interface ConfigSetting {
  option: Option;
  /** The option's attribute name (commander's key in `opts()`). */
  key: string;
  value: unknown;
  line: number;
}

/** `--config <file>`, for `Command.addOption`. */
export function configFileOption(): Option {
  return new Option(`${CONFIG_FLAG} <file>`, 'YAML file of these flags, e.g. deploy/registrar.yaml (keys: the flag names without --; flags given here override it)');
}

/** The key of an option in a config file: its long flag without `--`. */
export function configKey(option: Option): string | undefined {
  return option.long?.replace(/^--/, '');
}

/** A flag that may be given several times: its values are collected into a list. */
function repeatable(option: Option): boolean {
  return option.variadic || Array.isArray(option.defaultValue);
}

/**
 * Reads `path` and parses every key with its option of `command`. Throws ConfigFileError for
 * the first thing wrong. Nothing is set on the command (see applyConfigFile).
 */
export function readConfigFile(command: Command, path: string): ConfigSetting[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigFileError(`cannot read the config file ${path}: ${(error as Error).message}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) {
    const at = problem.linePos?.[0];
    throw new ConfigFileError(`config file ${path}${at ? `:${at.line}:${at.col}` : ''}: not valid YAML: ${problem.message.trimEnd()}`);
  }
  if (doc.contents === null) return []; // empty, or only comments
  if (!isMap(doc.contents)) {
    throw new ConfigFileError(`config file ${path}: expected a mapping of flag names to values (e.g. "asap-port: 3863"), got ${describe(doc.contents)}`);
  }
  const byKey = new Map<string, Option>();
  for (const option of command.options) {
    const key = configKey(option);
    if (key !== undefined && option.long !== CONFIG_FLAG) byKey.set(key, option);
  }
  const lineOf = (node: unknown): number => {
    const range = (node as Node | null)?.range;
    return range ? lines.linePos(range[0]).line : 0;
  };
  const where = (line: number): string => `config file ${path}${line > 0 ? `:${line}` : ''}`;

  const settings: ConfigSetting[] = [];
  for (const pair of doc.contents.items) {
    const keyLine = lineOf(pair.key);
    const name = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof name !== 'string') throw new ConfigFileError(`${where(keyLine)}: a key must be a flag name, got ${describe(pair.key)}`);
    if (`--${name}` === CONFIG_FLAG) throw new ConfigFileError(`${where(keyLine)}: key '${name}': a config file cannot name another config file`);
    const option = byKey.get(name);
    if (option === undefined) {
      throw new ConfigFileError(`${where(keyLine)}: unknown key '${name}' (the keys are the flags of \`rserpool ${command.name()} --help\` without the --)`);
    }
    const fail = (node: unknown, why: string): never => {
      throw new ConfigFileError(`${where(lineOf(node) || keyLine)}: key '${name}' (${option.flags}): ${why}`);
    };
    const value = resolve(doc, pair.value as Node | null);
    let parsed: unknown;
    if (option.isBoolean()) {
      // A flag without a value: true sets it (as giving the flag does), false leaves it unset.
      const v = isScalar(value) ? value.value : undefined;
      if (typeof v !== 'boolean') fail(value, `expected true or false, got ${describe(value)}`);
      parsed = option.negate ? !v : v;
    } else if (repeatable(option)) {
      const items = isSeq(value) ? value.items.map((item) => resolve(doc, item as Node | null)) : [value];
      if (items.length === 0) fail(value, 'expected a list with at least one value (leave the key out for none)');
      let previous: unknown = Array.isArray(option.defaultValue) ? [...(option.defaultValue as unknown[])] : undefined;
      for (const item of items) previous = parseOne(option, text_(item, fail), previous, (why) => fail(item, why));
      parsed = previous;
    } else {
      if (isSeq(value)) fail(value, `takes one value, not a list (${option.flags} is not repeatable)`);
      if (option.optional && isScalar(value) && value.value === true) {
        parsed = option.presetArg ?? true;
      } else {
        parsed = parseOne(option, text_(value, fail), option.defaultValue, (why) => fail(value, why));
      }
    }
    settings.push({ option, key: option.attributeName(), value: parsed, line: keyLine });
  }
  return settings;
}

/**
 * Reads the file and sets every option that the command line (or the environment) did not set,
 * with the source 'config'. Throws ConfigFileError.
 */
export function applyConfigFile(command: Command, path: string): void {
  for (const setting of readConfigFile(command, path)) {
    const source = command.getOptionValueSource(setting.key);
    if (source === undefined || source === 'default' || source === 'implied') {
      command.setOptionValueWithSource(setting.key, setting.value, 'config');
    }
  }
}

/**
 * The `preAction` hook that goes with configFileOption(): before the command's action runs,
 * the file's keys fill in what the command line left at the defaults. A bad file is a command
 * error (its message, exit status 1), as a bad flag is.
 *   command.addOption(configFileOption()).hook('preAction', applyConfigFileHook)
 */
export function applyConfigFileHook(_hookedCommand: Command, actionCommand: Command): void {
  const path = actionCommand.getOptionValue('config') as string | undefined;
  if (path === undefined) return;
  try {
    applyConfigFile(actionCommand, path);
  } catch (error) {
    if (!(error instanceof ConfigFileError)) throw error;
    actionCommand.error(`error: ${error.message}`, { exitCode: 1, code: 'rserpool.configFile' });
  }
}

/** An alias (`*name`) stands for the node it names. */
function resolve(doc: Document, node: Node | null): Node | null {
  return isAlias(node) ? ((node.resolve(doc) as Node | undefined) ?? null) : node;
}

/** The text an operator would have typed after the flag: the scalar as written in the file. */
function text_(node: Node | null, fail: (node: unknown, why: string) => never): string {
  if (!isScalar(node) || node.value === null || typeof node.value === 'object') return fail(node, `expected a value, got ${describe(node)}`);
  return node.source ?? String(node.value);
}

/** The option's own parser, as commander calls it for the command line. */
function parseOne(option: Option, text: string, previous: unknown, fail: (why: string) => never): unknown {
  if (option.parseArg === undefined) return option.variadic ? [...((previous as unknown[] | undefined) ?? []), text] : text;
  try {
    return option.parseArg(text, previous);
  } catch (error) {
    return fail(`'${text}' is invalid: ${(error as Error).message}`);
  }
}

function describe(node: unknown): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'nothing' : `'${node.source ?? String(node.value)}'`;
  return 'something else';
}
