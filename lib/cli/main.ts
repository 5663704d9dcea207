#!/usr/bin/env node
/**
 * The package's `bin`: `nestjs-wecom-token doctor [--json] [--dotenv <path>]` (not `--env-file`: Node 20 reads that
 * flag itself from anywhere in argv, script arguments included). Settings come from the environment
 * only: a command line is visible to every user of the machine (`ps`) and stays in shell history.
 *
 * Exit codes: 0 every check passed (skipped ones included), 1 a check failed, 2 a usage error.
 */
import { runDoctor, type DoctorCheck } from './doctor.js';

const USAGE = `Usage: nestjs-wecom-token doctor [--json] [--dotenv <path>]

Checks a WeCom app's settings from this machine: the IP WeCom sees (egress), gettoken, the trusted-IP rule, the app
(agent/get), both JS-SDK tickets, and with REDIS_URL the Redis round trip and RedisTokenLock. One line per check,
with what to do.

Reads from the environment (never from the command line, which other users see in \`ps\`):
  WECOM_CORP_ID    the corp's ID (我的企业 → 企业信息 → 企业ID)            required
  WECOM_SECRET     the app's Secret (应用管理 → the app → Secret)         required
  WECOM_AGENT_ID   the app's AgentId                                      optional: checks the app and the agent ticket
  WECOM_BASE_URL   WeCom's API root (default https://qyapi.weixin.qq.com) optional
  WECOM_PROXY      the app's forward proxy, http://[user:password@]host:port optional: every check goes through it
                   (false: none; unset: HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as the module does)
  REDIS_URL        redis://[[user]:password@]host[:port][/db]             optional: checks Redis and the lock

Options:
  --json             print a JSON array of { check, status: "pass" | "fail" | "skip", message, errcode?, ip? }
  --dotenv <path>    load the variables from a .env file first (the file's path is not a secret)
  -h, --help         this text

Exit code: 0 when every check passed (a skipped optional check is not a failure), 1 when one failed, 2 on a usage error.`;

/** Options that would put a secret into argv: refused by name, and the value is never echoed. */
const SECRET_OPTION = /secret|token|passw|redis|ticket|key|cred|proxy/i;

interface Parsed {
  json: boolean;
  envFile?: string;
}

function parse(args: string[]): Parsed | { exit: number; text: string } {
  if (args.length === 0 || args.includes('-h') || args.includes('--help')) return { exit: args.length === 0 ? 2 : 0, text: USAGE };
  const [command, ...rest] = args;
  if (command !== 'doctor') return { exit: 2, text: `unknown command '${safe(command)}'\n\n${USAGE}` };
  const parsed: Parsed = { json: false };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    const name = arg.split('=', 1)[0];
    if (name === '--json') {
      parsed.json = true;
    } else if (name === '--dotenv') {
      const path = arg.includes('=') ? arg.slice(name.length + 1) : rest[++i];
      if (!path) return { exit: 2, text: '--dotenv needs a path' };
      parsed.envFile = path;
    } else if (name.startsWith('-') && SECRET_OPTION.test(name)) {
      return {
        exit: 2,
        text:
          `refused: ${safe(name)} would put a secret on the command line, where every user of this machine sees it (ps, /proc) ` +
          `and shell history keeps it. Set WECOM_SECRET / REDIS_URL / WECOM_PROXY in the environment or in a file given with --dotenv; ` +
          `and since it was typed, consider the secret exposed: reset it (应用管理 → the app → Secret) if others share this machine.`,
      };
    } else {
      return { exit: 2, text: `unknown argument '${safe(name)}': the doctor reads its settings from the environment\n\n${USAGE}` };
    }
  }
  return parsed;
}

/** What an argument may be echoed as: an option or command name of plain shape, short; anything else could be a secret. */
const ECHOABLE = /^(?:--?)?[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/**
 * An argument as it may be echoed: its option name (before `=`) when it has the shape of one (lower case, at most
 * 24 characters), else only its length: `doctor <SECRET>` must not print any of the secret, not even a cut.
 */
function safe(arg: string): string {
  const name = arg.split('=', 1)[0];
  return name.length <= 24 && ECHOABLE.test(name) ? name : `(an argument of ${arg.length} characters, not shown: it may be a secret)`;
}

const MARK: Record<DoctorCheck['status'], string> = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' };

function report(results: DoctorCheck[]): string {
  const width = Math.max(...results.map((r) => r.check.length));
  const lines = results.map((r) => `${MARK[r.status]}  ${r.check.padEnd(width)}  ${r.message}`);
  const failed = results.filter((r) => r.status === 'fail').length;
  const skipped = results.filter((r) => r.status === 'skip').length;
  lines.push(
    '',
    failed === 0
      ? `All ${results.length - skipped} checks passed${skipped ? ` (${skipped} skipped)` : ''}.`
      : `${failed} of ${results.length} checks failed${skipped ? `, ${skipped} skipped` : ''}.`,
  );
  return lines.join('\n');
}

/** Write and exit once the text is flushed: a Redis client closing late must not hold the exit code back. */
function finish(exit: number, text: string, stream: NodeJS.WriteStream = process.stdout): void {
  stream.write(`${text}\n`, () => process.exit(exit));
}

async function main(): Promise<void> {
  const parsed = parse(process.argv.slice(2));
  if ('exit' in parsed) {
    finish(parsed.exit, parsed.text, parsed.exit === 0 ? process.stdout : process.stderr);
    return;
  }
  if (parsed.envFile) {
    try {
      process.loadEnvFile(parsed.envFile);
    } catch (error) {
      finish(2, `cannot read --dotenv ${parsed.envFile}: ${(error as { code?: string }).code ?? 'unreadable'}`, process.stderr);
      return;
    }
  }
  const timeout = Number(process.env.WECOM_DOCTOR_TIMEOUT_MS);
  const results = await runDoctor(process.env, Number.isFinite(timeout) && timeout > 0 ? { timeoutMs: timeout } : {});
  const failed = results.some((r) => r.status === 'fail');
  finish(failed ? 1 : 0, parsed.json ? JSON.stringify(results, null, 2) : report(results));
}

main().catch((error: unknown) => {
  // Never the error object: an error from elsewhere could carry a URL with a secret. Its name and code only.
  const { name, code } = (error ?? {}) as { name?: string; code?: string };
  finish(1, `nestjs-wecom-token doctor stopped on an unexpected ${name ?? 'error'}${code ? ` (${code})` : ''}; please report it`, process.stderr);
});
