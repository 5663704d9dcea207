/**
 * The package as npm delivers it: `npm pack` of the current tree, and consumer folders under test/consumers/ that
 * install their pinned dependencies from their own lockfile and then the tarball (never the source folder).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The repository root. */
export const ROOT = resolve(__dirname, '..', '..');

/** Where the consumer applications and type fixtures live. */
export const CONSUMERS = join(ROOT, 'test', 'consumers');

/** The package's name. */
export const PACKAGE_NAME = 'nestjs-wecom-token';

/** Written into a consumer's node_modules after `npm ci`: the lockfile and Node version it was installed for. */
const STAMP = '.nestjs-wecom-token-consumer-stamp';

export const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** What a finished child process said. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr, interleaved as they arrived, without ANSI colours. */
  output: string;
  ms: number;
}

/**
 * The environment for a child npm or node: without the variables of the `npm test` and jest worker this runs in
 * (`npm_config_local_prefix` would point a nested npm at the repository root), colours off so output can be parsed.
 */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_(lifecycle_|package_|command$|config_local_prefix$)/i.test(key) || key === 'JEST_WORKER_ID' || key === 'INIT_CWD') continue;
    env[key] = value;
  }
  return { ...env, FORCE_COLOR: '0', NO_COLOR: '1', ...extra };
}

/** Run a command to completion (never throws on a non-zero exit; the caller asserts). */
export function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? childEnv(), stdio: ['ignore', 'pipe', 'pipe'], shell: process.platform === 'win32' });
    let stdout = '';
    let stderr = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, output: stripAnsi(output), ms: Date.now() - started });
    });
  });
}

/** Run a command and throw, with its output, unless it exits 0. */
export async function runOk(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`\`${command} ${args.join(' ')}\` in ${options.cwd} exited with ${result.code ?? result.signal} after ${result.ms} ms:\n${result.output}`);
  }
  return result;
}

/** npm, in `cwd`. */
export function npm(args: string[], cwd: string, timeoutMs: number): Promise<RunResult> {
  return runOk(NPM, args, { cwd, timeoutMs });
}

export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
}

/** One file of `npm pack --json`. */
export interface PackedFile {
  path: string;
  size: number;
}

/** A tarball made by `npm pack` of the current tree, in its own temporary folder. */
export interface PackedTarball {
  tarball: string;
  /** `sha512-…` of the tarball, as npm records it. */
  integrity: string;
  files: PackedFile[];
  /** Removes the temporary folder. */
  remove(): void;
}

/** Both builds must exist (dist/ and dist/esm/): `npm test` builds before jest runs. */
export function assertBuilt(): void {
  const entries = ['index.js', 'testing/index.js', 'esm/index.js', 'esm/testing/index.js', 'esm/package.json'];
  const missing = entries.filter((entry) => !existsSync(join(ROOT, 'dist', entry)));
  if (missing.length) {
    throw new Error(`dist/ is not built (no ${missing.map((m) => `dist/${m}`).join(', ')}): run \`npm test\` (it builds first) or \`npm run build\` before jest`);
  }
}

/**
 * `npm pack` of the current tree into a temporary folder. Scripts are ignored so that packing never rebuilds dist/
 * under the feet of the other test files running at the same time.
 */
export async function packTarball(): Promise<PackedTarball> {
  assertBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'nestjs-wecom-token-pack-'));
  const { stdout } = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir], ROOT, 120_000);
  const [info] = JSON.parse(stdout) as Array<{ filename: string; integrity: string; files: PackedFile[] }>;
  return { tarball: join(dir, info.filename), integrity: info.integrity, files: info.files, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `npm pack --dry-run --json` of the current tree: what would be published. */
export async function dryRunPack(): Promise<PackedFile[]> {
  assertBuilt();
  const { stdout } = await npm(['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT, 120_000);
  return (JSON.parse(stdout) as Array<{ files: PackedFile[] }>)[0].files;
}

function stampOf(consumerDir: string): string {
  const lock = readFileSync(join(consumerDir, 'package-lock.json'));
  return `${createHash('sha256').update(lock).digest('hex')} node-${process.versions.node.split('.')[0]}\n`;
}

/**
 * Install a consumer's pinned dependencies with `npm ci`, unless its node_modules was already installed from this
 * very lockfile (a stamp in node_modules says so): only the first run pays for the install.
 */
export async function ensureConsumerDependencies(consumerDir: string): Promise<'cached' | 'installed'> {
  const stampFile = join(consumerDir, 'node_modules', STAMP);
  const stamp = stampOf(consumerDir);
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return 'cached';
  await npm(['ci', '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline'], consumerDir, 600_000);
  writeFileSync(stampFile, stamp);
  return 'installed';
}

/**
 * Install the tarball into a consumer without touching its package.json or lockfile; npm checks the package's peer
 * ranges against the consumer's NestJS. Then make sure what is installed came from the tarball.
 */
export async function installTarball(consumerDir: string, { tarball, integrity }: PackedTarball): Promise<void> {
  await npm(['install', tarball, '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline'], consumerDir, 300_000);
  const installed = join(consumerDir, 'node_modules', PACKAGE_NAME);
  if (lstatSync(installed).isSymbolicLink()) throw new Error(`${installed} is a symlink: the package must come from the tarball`);
  const hidden = JSON.parse(readFileSync(join(consumerDir, 'node_modules', '.package-lock.json'), 'utf8')) as {
    packages: Record<string, { resolved?: string; integrity?: string }>;
  };
  const entry = hidden.packages[`node_modules/${PACKAGE_NAME}`];
  if (!entry?.resolved?.endsWith('.tgz') || entry.integrity !== integrity) {
    throw new Error(`${PACKAGE_NAME} in ${consumerDir} is not this run's tarball (resolved '${entry?.resolved}', integrity '${entry?.integrity}')`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Take the lock of one consumer folder: several engineers (or an editor's test runner) may run the suite in one
 * checkout at once, and two runs installing into the same node_modules break each other. The lock is a directory in
 * the OS temp folder holding the owner's pid; a lock whose owner died is taken over. Resolves the release function.
 */
export async function lockConsumer(dir: string, timeoutMs = 15 * 60_000): Promise<() => void> {
  const lock = join(tmpdir(), `nestjs-wecom-token-consumer-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return () => rmSync(lock, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    } catch {
      // created but its pid not written yet: wait
    }
    if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${dir} is locked by process ${owner} (${lock}) for more than ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A consumer folder, locked, with its dependencies and the tarball installed. Call `release()` when done with it. */
export interface PreparedConsumer {
  dir: string;
  dependencies: 'cached' | 'installed';
  release: () => void;
}

/**
 * Sources every starter-shaped consumer has word for word (test/consumers/shared/), copied into its src/ so that
 * one copy is maintained; the copies are ignored by git.
 */
const SHARED_SOURCES = ['directory.service.ts'];

/** Lock a consumer folder, install its dependencies (unless cached), then the tarball. */
export async function prepareConsumer(name: string, packed: PackedTarball): Promise<PreparedConsumer> {
  const dir = join(CONSUMERS, name);
  const release = await lockConsumer(dir);
  try {
    // Only the starter-shaped applications (the type-fixture consumers have no application).
    if (existsSync(join(dir, 'src', 'app.module.ts'))) {
      for (const file of SHARED_SOURCES) copyFileSync(join(CONSUMERS, 'shared', file), join(dir, 'src', file));
    }
    const dependencies = await ensureConsumerDependencies(dir);
    await installTarball(dir, packed);
    return { dir, dependencies, release };
  } catch (error) {
    release();
    throw error;
  }
}
