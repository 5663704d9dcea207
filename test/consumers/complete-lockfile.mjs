/**
 * `node test/consumers/complete-lockfile.mjs <package-lock.json>…` after regenerating a consumer's lockfile here.
 *
 * jest 30 resolves through unrs-resolver, whose native bindings are optional dependencies, one per platform. This
 * machine's npm registry serves only some of them; `npm install` leaves the others out of the lockfile, and `npm ci`
 * then refuses it ("Missing: @unrs/resolver-binding-… from lock file"). This records each missing binding as a full
 * registry would: optional, with its os/cpu/libc, so that `npm ci` skips it on a platform it does not fit. (Without
 * an integrity: npm never fetches a binding of another platform.)
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** `linux-arm64-gnu` → os, cpu, libc. */
function platformOf(suffix) {
  const [os, cpu, abi] = suffix.split('-');
  const libc = os !== 'linux' ? undefined : /musl/.test(abi ?? '') ? 'musl' : 'glibc';
  return { os, cpu, libc };
}

for (const path of process.argv.slice(2)) {
  const lock = JSON.parse(readFileSync(path, 'utf8'));
  let added = 0;
  for (const entry of Object.values(lock.packages)) {
    for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
      const suffix = /^@unrs\/resolver-binding-(.+)$/.exec(name)?.[1];
      if (!suffix || lock.packages[`node_modules/${name}`]) continue;
      const { os, cpu, libc } = platformOf(suffix);
      lock.packages[`node_modules/${name}`] = {
        version,
        cpu: [cpu],
        ...(entry.dev ? { dev: true } : {}),
        ...(libc ? { libc: [libc] } : {}),
        license: 'MIT',
        optional: true,
        os: [os],
      };
      added++;
    }
  }
  const [root, ...rest] = Object.entries(lock.packages);
  lock.packages = Object.fromEntries([root, ...rest.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
  writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`${path}: ${added} binding(s) recorded`);
}
