'use strict';
/**
 * A Valkey 8 server for the fleet tests (issue 19), found or installed without touching the system:
 * - `VALKEY_SERVER` (a path), else `valkey-server` on PATH, when it runs;
 * - else Debian's own package, `valkey-tools` 8.0.1 of bookworm-backports (it holds the server binary; the
 *   `valkey-server` package only adds a symlink and a systemd unit), downloaded once from deb.debian.org, checked
 *   against the SHA-256 pinned here, and unpacked with `dpkg-deb -x` into test/runtimes/valkey/ (git-ignored).
 *
 * Run as a script it prints one JSON line, `{ "bin": …, "version": … }` or `{ "problem": … }`, so that a test file can
 * ask synchronously (spawnSync) before its `describe`.
 */
const { createHash } = require('node:crypto');
const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const DEB = Object.freeze({
  url: 'http://deb.debian.org/debian/pool/main/v/valkey/valkey-tools_8.0.1+dfsg1-1~bpo12+1_amd64.deb',
  sha256: 'd2c2ea67642fa9571a07138b80ae52ebe566311c952aef25a39c1d5050697853',
});
const HOME = join(__dirname, '..', 'runtimes', 'valkey');
const LOCAL_BIN = join(HOME, 'usr', 'bin', 'valkey-server');

/** `Valkey server v=8.0.1 …` → '8.0.1', or undefined when `bin` does not run as a Valkey server. */
function versionOf(bin) {
  const run = spawnSync(bin, ['--version'], { timeout: 5000, encoding: 'utf8' });
  const match = run.status === 0 ? /^Valkey server v=(\d+\.\d+\.\d+)/.exec(run.stdout) : null;
  return match ? match[1] : undefined;
}

async function install() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `Debian's valkey-tools is for linux-x64 (this is ${process.platform}-${process.arch})`;
  if (spawnSync('dpkg-deb', ['--version'], { timeout: 5000 }).status !== 0) return 'no dpkg-deb to unpack Debian’s valkey-tools package';
  let bytes;
  try {
    const response = await fetch(DEB.url, { signal: AbortSignal.timeout(60_000), redirect: 'error' });
    if (!response.ok) return `${DEB.url} answered HTTP ${response.status}`;
    bytes = Buffer.from(await response.arrayBuffer());
  } catch (error) {
    return `${DEB.url} could not be downloaded (${error && error.message})`;
  }
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== DEB.sha256) return `${DEB.url} has SHA-256 ${digest}, not the pinned ${DEB.sha256}`;
  // Unpack beside, then move into place: a run cut short never leaves a half-unpacked folder behind.
  const staging = `${HOME}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const deb = join(staging, 'valkey-tools.deb');
  writeFileSync(deb, bytes);
  const unpack = spawnSync('dpkg-deb', ['-x', deb, staging], { timeout: 60_000, encoding: 'utf8' });
  rmSync(deb, { force: true });
  if (unpack.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    return `dpkg-deb -x failed: ${(unpack.stderr || '').trim().slice(0, 200)}`;
  }
  // As Debian's valkey-server package does: the server is valkey-check-rdb started under the name valkey-server.
  symlinkSync('valkey-check-rdb', join(staging, 'usr', 'bin', 'valkey-server'));
  rmSync(HOME, { recursive: true, force: true });
  renameSync(staging, HOME);
  return undefined;
}

/** `{ bin, version, source }` of a runnable Valkey server, or `{ problem }` saying why there is none. */
async function findValkey() {
  const candidates = [process.env.VALKEY_SERVER, 'valkey-server', LOCAL_BIN].filter(Boolean);
  for (const bin of candidates) {
    const version = versionOf(bin);
    if (version) return { bin, version, source: bin === LOCAL_BIN ? 'test/runtimes/valkey (Debian bookworm-backports valkey-tools)' : bin };
  }
  const problem = existsSync(LOCAL_BIN) ? `${LOCAL_BIN} does not run` : await install();
  if (problem) return { problem };
  const version = versionOf(LOCAL_BIN);
  return version
    ? { bin: LOCAL_BIN, version, source: `test/runtimes/valkey (Debian bookworm-backports valkey-tools, downloaded now)` }
    : { problem: `${LOCAL_BIN} does not run after unpacking` };
}

/** The same, synchronously, for a test file's top level: runs this file as a script. */
function findValkeySync() {
  const run = spawnSync(process.execPath, [__filename], { timeout: 120_000, encoding: 'utf8' });
  try {
    return JSON.parse(run.stdout.trim().split('\n').pop());
  } catch {
    return { problem: `looking for Valkey failed (exit ${run.status}): ${(run.stderr || '').trim().slice(0, 200)}` };
  }
}

module.exports = { findValkey, findValkeySync, DEB };

if (require.main === module) {
  findValkey().then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (error) => process.stdout.write(`${JSON.stringify({ problem: String(error && error.message) })}\n`),
  );
}
