/**
 * Completes the ES-module build after `tsc -p tsconfig.build.esm.json` has emitted it into dist/esm:
 * - dist/esm/package.json says `"type": "module"`, so that Node reads dist/esm/**.js as ES modules and TypeScript reads
 *   dist/esm/**.d.ts as their ES-module declarations, while dist/**.js and dist/**.d.ts (the CommonJS build and its
 *   declarations) stay CommonJS;
 * - dist/esm/common/optional-peer.js is replaced by the ES-module build's own copy (see lib/common/optional-peer.ts): there is no
 *   `require` in an ES module, and inside jest's or vitest's ES-module runtime only `import()` reaches the registry
 *   the application's modules live in, so the optional peers are imported once, when the build is loaded.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const esm = join(root, 'dist', 'esm');

// The peer list is the CommonJS source's, so that the two copies cannot drift apart.
const source = readFileSync(join(root, 'lib', 'common', 'optional-peer.ts'), 'utf8');
const list = /export const OPTIONAL_PEERS = (\[[^\]]*\]) as const;/.exec(source)?.[1];
if (!list) throw new Error('lib/common/optional-peer.ts: no `export const OPTIONAL_PEERS = [...] as const;` found');
const peers = JSON.parse(list.replace(/'/g, '"'));

writeFileSync(join(esm, 'package.json'), `${JSON.stringify({ type: 'module' }, null, 2)}\n`);

writeFileSync(
  join(esm, 'common', 'optional-peer.js'),
  `/**
 * The ES-module build's copy of optional-peer.js, written by scripts/build-esm.mjs (lib/common/optional-peer.ts is the
 * CommonJS build's). Each optional peer is imported once, when this build is loaded, through import(): in Node,
 * in jest with --experimental-vm-modules and in vitest alike that finds the application's own copy. A peer that is
 * not installed is remembered with its error, thrown when it is asked for, as require() would throw it.
 */
/** The optional peers this package loads. */
export const OPTIONAL_PEERS = ${JSON.stringify(peers)};
/** Which build this file belongs to. */
export const MODULE_SYSTEM = 'ES module';
const loaded = new Map(
  await Promise.all(OPTIONAL_PEERS.map((name) => import(name).then((module) => [name, { module }], (error) => [name, { error }]))),
);
/** The module \`name\`, as the application has it installed; throws when it is not installed. */
export function loadOptionalPeer(name) {
  const peer = loaded.get(name);
  if (!peer) throw new Error(\`\${name} is not an optional peer of nestjs-wecom-token\`);
  if ('error' in peer) throw peer.error;
  return peer.module;
}
`,
);
