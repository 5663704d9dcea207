/**
 * The sample in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core, no browser
 * download), on Express and on Fastify: `/me/page` sends the browser to the simulator's login page (or, with the
 * WeCom client's user agent, its OAuth2 page), the member presses the consent button, and the page says who they
 * are. The cookies the browser holds are HttpOnly, SameSite=Lax, and carry no user_ticket or token.
 *
 * Where no Chromium is installed and CI is not set, this skips with one line; under CI=true a missing Chromium is a
 * failure (.ci/run installs it).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { PLATFORMS, sessionPayload } from './identity-harness';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = join(__dirname, '..', '..');
const onCi = process.env.CI === 'true';
const missing = !existsSync(CHROMIUM);
if (missing && !onCi) process.stdout.write(`[identity-browser] skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium; under CI=true this fails instead).\n`);
const describeIfChromium = missing && !onCi ? describe.skip : describe;

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WXWORK_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 wxwork/4.1.22 MicroMessenger/7.0.1 Language/zh';

interface Sample {
  readonly url: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

function startSample(platform: string): Promise<Sample> {
  const child: ChildProcess = spawn(process.execPath, ['dist-sample/main.js'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', NO_COLOR: '1', WECOM_CORP_ID: '', WECOM_SECRET: '', SAMPLE_PLATFORM: platform },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the sample did not start:\n${text}`)), 30_000);
    const poll = setInterval(() => {
      const m = /listening on (http:\/\/\S+);/.exec(text);
      if (m || child.exitCode !== null) {
        clearInterval(poll);
        clearTimeout(timer);
        if (!m) return reject(new Error(`the sample exited:\n${text}`));
        resolve({
          url: m[1],
          output: () => text,
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    }, 25);
  });
}

/** A fresh Chromium profile: a new user-data-dir, removed afterwards. */
async function withChromium<T>(userAgent: string | undefined, body: (context: BrowserContext) => Promise<T>): Promise<T> {
  const profile = mkdtempSync(join(tmpdir(), 'wecom-identity-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, ...(userAgent ? { userAgent } : {}) });
  try {
    return await body(context);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

describeIfChromium.each(PLATFORMS)('the sample in headless Chromium on %s', (platform) => {
  jest.setTimeout(90_000);
  let sample: Sample;

  beforeAll(async () => {
    sample = await startSample(platform);
  });

  afterAll(async () => {
    await sample?.stop();
    expect(sample.output()).not.toMatch(/sim-secret/);
  });

  it('outside the WeCom client: the login page, the consent button, then a page that says who you are', async () => {
    await withChromium(undefined, async (context) => {
      const page = await context.newPage();
      await page.goto(`${sample.url}/me/page`);
      const consent = new URL(page.url());
      expect(consent.pathname).toBe('/wwlogin/sso/login');
      expect(consent.searchParams.get('login_type')).toBe('CorpApp');
      expect(await page.textContent('#who')).toContain('zhangsan');
      await Promise.all([page.waitForURL(`${sample.url}/me/page`), page.click('#allow')]);
      expect(await page.textContent('#user-id')).toBe('zhangsan');
      expect(await page.textContent('#corp-id')).toMatch(/^ww/);

      const cookies = await context.cookies(sample.url);
      const session = cookies.find((c) => c.name === 'wecom_session')!;
      expect(session).toEqual(expect.objectContaining({ httpOnly: true, sameSite: 'Lax', secure: false }));
      expect(session.expires).toBeGreaterThan(Date.now() / 1000 + 3600);
      expect(Object.keys(sessionPayload(session.value)).sort()).toEqual(['c', 'exp', 'iat', 'u', 'v']);
      expect(cookies.find((c) => c.name === 'wecom_session_state')).toEqual(expect.objectContaining({ httpOnly: true, sameSite: 'Lax' }));
      for (const cookie of cookies) expect(cookie.value.length).toBeLessThan(400);

      // The JSON route, with the same session; the page's scripts never see the HttpOnly cookie.
      const me = await page.goto(`${sample.url}/me`);
      expect(await me!.json()).toEqual({ corpId: expect.stringMatching(/^ww/), userId: 'zhangsan' });
      // Evaluated in the page (a string, so the test's own types need no DOM library).
      expect(await page.evaluate('document.cookie')).toBe('');
    });
  });

  it('inside the WeCom client: the OAuth2 page, and a reload of the callback URL after login is no error', async () => {
    await withChromium(WXWORK_UA, async (context) => {
      const page = await context.newPage();
      await page.goto(`${sample.url}/me/page?from=menu`);
      expect(new URL(page.url()).pathname).toBe('/connect/oauth2/authorize');
      let callback = '';
      page.on('request', (request) => {
        if (/[?&]code=/.test(request.url())) callback = request.url();
      });
      await Promise.all([page.waitForURL(`${sample.url}/me/page?from=menu`), page.click('#allow')]);
      expect(await page.textContent('#user-id')).toBe('zhangsan');
      expect(callback).toMatch(/\/me\/page\?from=menu&code=.+&state=[A-Za-z0-9]+$/);
      // The back button or a reload of the callback: already signed in, 302 to the clean URL, no 500.
      const again = await page.goto(callback);
      expect(again!.status()).toBe(200);
      expect(page.url()).toBe(`${sample.url}/me/page?from=menu`);
    });
  });
});
