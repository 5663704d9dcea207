/**
 * The package manifest, checked against what npm publishes and what Node and TypeScript make of it: every bare
 * import of dist/ is declared, the exports map resolves for require and import with types, the tarball holds only
 * the built files, and the declarations compile on the lowest TypeScript the README promises.
 */
import { builtinModules } from 'node:module';
import { mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import * as ts from 'typescript';
import { CONSUMERS, dryRunPack, PackedFile, PackedTarball, PACKAGE_NAME, packTarball, prepareConsumer, ROOT, runOk } from './support/npm-package';

const MINUTE = 60_000;

interface Manifest {
  name: string;
  main: string;
  types: string;
  exports: Record<string, string | Record<string, string>>;
  typesVersions: Record<string, Record<string, string[]>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;

/** Every file under dir, relative to ROOT with forward slashes. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path) : [relative(ROOT, path).split(sep).join('/')];
  });
}

/** The module specifiers of a built file: require(), import(), import/export … from, side-effect imports, type references. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\bfrom\s+['"]([^'"]+)['"]/g,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\/\/\/\s*<reference\s+types=['"]([^'"]+)['"]/g,
  ];
  for (const pattern of patterns) for (const match of source.matchAll(pattern)) found.push(match[1]!);
  return found;
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

const isBuiltin = (specifier: string) => specifier.startsWith('node:') || builtinModules.includes(packageOf(specifier));

describe('package manifest', () => {
  const distFiles = walk(join(ROOT, 'dist'));

  it('every bare import in dist/*.js and dist/*.d.ts is a declared dependency or peer', () => {
    const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
    const undeclared: string[] = [];
    const used = new Set<string>();
    for (const file of distFiles.filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'))) {
      for (const specifier of specifiers(readFileSync(join(ROOT, file), 'utf8'))) {
        if (specifier.startsWith('.') || isBuiltin(specifier)) continue;
        used.add(packageOf(specifier));
        if (!declared.has(packageOf(specifier))) undeclared.push(`${file}: '${specifier}'`);
      }
    }
    expect(undeclared).toEqual([]);
    // The scan sees the imports at all (a broken pattern would pass the check above vacuously).
    // (rxjs stays a peer without a direct import: `WeComClient.http` is an HttpService, whose methods return Observables.)
    expect([...used]).toEqual(expect.arrayContaining(['@nestjs/common', '@nestjs/core', '@nestjs/axios', 'axios', 'cache-manager']));
  });

  it('optional peers are only loaded where their absence is handled', () => {
    const optional = Object.entries(manifest.peerDependenciesMeta ?? {}).filter(([, meta]) => meta.optional).map(([name]) => name);
    expect(optional).toEqual(expect.arrayContaining(['@nestjs/schedule', '@opentelemetry/api', '@nestjs/event-emitter', '@nestjs/terminus']));
    // A subpath that exists for one optional peer imports it at the top: only applications that use it load it.
    const subpathOf: Record<string, string> = { '@nestjs/terminus': 'dist/health/' };
    for (const file of distFiles.filter((f) => f.endsWith('.js'))) {
      const source = readFileSync(join(ROOT, file), 'utf8');
      for (const name of optional) {
        if (subpathOf[name] && file.startsWith(subpathOf[name]!)) continue;
        // A top-level `require("…")` of an optional peer (TypeScript's emit of a static import) would fail to load.
        expect({ file, topLevel: new RegExp(`^(const|var|let) .*= require\\(["']${name.replace('/', '\\/')}["']\\)`, 'm').test(source) }).toEqual({ file, topLevel: false });
      }
    }
  });

  it('npm pack lists only the built JS and declarations, README.md, LICENSE and package.json', async () => {
    const files: PackedFile[] = await dryRunPack();
    const paths = files.map((f) => f.path).sort();
    const unexpected = paths.filter((p) => !/^dist\/.+\.(js|d\.ts)$/.test(p) && !['README.md', 'LICENSE', 'package.json'].includes(p));
    expect(unexpected).toEqual([]);
    expect(paths.filter((p) => /\.(spec|e2e-spec|test)\.|\.map$|\.tsbuildinfo$|^(lib|test|sample|bench)\//.test(p))).toEqual([]);
    expect(paths).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/testing/index.js', 'dist/testing/index.d.ts']));
    // Every built module ships with its declarations, and everything built (minus specs) ships.
    for (const js of paths.filter((p) => p.endsWith('.js'))) expect(paths).toContain(js.replace(/\.js$/, '.d.ts'));
    const built = distFiles.filter((f) => /\.(js|d\.ts)$/.test(f) && !/\.spec\./.test(f));
    expect(paths.filter((p) => p.startsWith('dist/'))).toEqual(built.sort());
  });

  it('package.json points main, types, exports and typesVersions at shipped files', () => {
    expect(manifest.name).toBe(PACKAGE_NAME);
    expect(manifest.main).toBe('./dist/index.js');
    expect(manifest.types).toBe('./dist/index.d.ts');
    expect(manifest.exports).toEqual({
      '.': { types: './dist/index.d.ts', default: './dist/index.js' },
      './testing': { types: './dist/testing/index.d.ts', default: './dist/testing/index.js' },
      './health': { types: './dist/health/index.d.ts', default: './dist/health/index.js' },
      './package.json': './package.json',
    });
    expect(manifest.typesVersions).toEqual({ '*': { testing: ['./dist/testing/index.d.ts'], health: ['./dist/health/index.d.ts'] } });
  });
});

/** One fixture, written as a CommonJS file (.cts) and an ES-module file (.mts): TypeScript decides by extension. */
function writeTypeFixture(dir: string): void {
  const fixture = readFileSync(join(ROOT, 'test', 'consumers', 'types-fixture.ts'), 'utf8');
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'src', 'consumer.cts'), fixture);
  writeFileSync(join(dir, 'src', 'consumer.mts'), fixture);
}

describe('the packed package, as Node and TypeScript resolve it', () => {
  let packed: PackedTarball;
  /** NestJS 11 type fixture on the lowest promised TypeScript; NestJS 12 type fixture. Both hold the tarball. */
  let nest11: string;
  let nest12: string;
  const releases: Array<() => void> = [];

  beforeAll(async () => {
    packed = await packTarball();
    for (const [name, set] of [['types-min', (dir: string) => (nest11 = dir)], ['types-min-nest12', (dir: string) => (nest12 = dir)]] as const) {
      const prepared = await prepareConsumer(name, packed);
      releases.push(prepared.release);
      set(prepared.dir);
      writeTypeFixture(prepared.dir);
    }
  }, 20 * MINUTE);

  afterAll(() => {
    for (const release of releases) release();
    packed?.remove();
  });

  /** What `require` and `import()` of each entry point give in a real Node process started in `dir`. */
  async function loadBoth(dir: string): Promise<Record<string, { required: string; requiredKeys: string[]; imported: string; importedKeys: string[]; sameObject: boolean }>> {
    const script = `
      import { createRequire } from 'node:module';
      import { fileURLToPath } from 'node:url';
      import { realpathSync } from 'node:fs';
      const require = createRequire(process.cwd() + '/');
      const out = {};
      for (const id of ['${PACKAGE_NAME}', '${PACKAGE_NAME}/testing']) {
        const cjs = require(id);
        const esm = await import(id);
        out[id] = {
          required: realpathSync(require.resolve(id)),
          requiredKeys: Object.keys(cjs).sort(),
          imported: realpathSync(fileURLToPath(import.meta.resolve(id))),
          importedKeys: Object.keys(esm).filter((k) => k !== 'default' && k !== '__esModule').sort(),
          sameObject: esm.default === cjs && Object.keys(cjs).every((k) => esm[k] === cjs[k]),
        };
      }
      let deep = 'resolved';
      try { require.resolve('${PACKAGE_NAME}/dist/index.js'); } catch (e) { deep = e.code; }
      out.deep = deep;
      out.packageJson = require('${PACKAGE_NAME}/package.json').name;
      console.log(JSON.stringify(out));`;
    const { stdout } = await runOk(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, timeoutMs: MINUTE });
    return JSON.parse(stdout.trim().split('\n').pop()!);
  }

  it.each([
    ['NestJS 11 (CommonJS)', () => nest11],
    ['NestJS 12 (ES modules, loaded by require(esm))', () => nest12],
  ])('with %s installed, require and import resolve . and ./testing to the one CommonJS build', async (_label, dirOf) => {
    const dir = dirOf();
    const installed = realpathSync(join(dir, 'node_modules', PACKAGE_NAME));
    const result = (await loadBoth(dir)) as unknown as Record<string, unknown> & Awaited<ReturnType<typeof loadBoth>>;
    for (const [id, target] of [[PACKAGE_NAME, 'dist/index.js'], [`${PACKAGE_NAME}/testing`, 'dist/testing/index.js']] as const) {
      const entry = result[id]!;
      expect(entry.required).toBe(join(installed, target));
      expect(entry.imported).toBe(join(installed, target));
      // Node's ESM view of the CommonJS build names every export (cjs-module-lexer sees them all) ...
      expect(entry.importedKeys).toEqual(entry.requiredKeys);
      // ... and they are the same objects: one copy of each class.
      expect(entry.sameObject).toBe(true);
    }
    expect(result[PACKAGE_NAME]!.requiredKeys).toEqual(expect.arrayContaining(['WeComTokenModule', 'AccessTokenService', 'WeComClient', 'AccessTokenInterceptor', 'WeComApiError']));
    expect(result[`${PACKAGE_NAME}/testing`]!.requiredKeys).toContain('WeComSimulator');
    expect(result.deep).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
    expect(result.packageJson).toBe(PACKAGE_NAME);
  });

  it('TypeScript resolves . and ./testing to the shipped declarations, for require and import, under every module resolution', () => {
    const installed = realpathSync(join(nest11, 'node_modules', PACKAGE_NAME));
    const modes = [
      ['node10', ts.ModuleResolutionKind.Node10, ts.ModuleKind.CommonJS, undefined],
      ['node16, require', ts.ModuleResolutionKind.Node16, ts.ModuleKind.Node16, ts.ModuleKind.CommonJS],
      ['node16, import', ts.ModuleResolutionKind.Node16, ts.ModuleKind.Node16, ts.ModuleKind.ESNext],
      ['nodenext, require', ts.ModuleResolutionKind.NodeNext, ts.ModuleKind.NodeNext, ts.ModuleKind.CommonJS],
      ['nodenext, import', ts.ModuleResolutionKind.NodeNext, ts.ModuleKind.NodeNext, ts.ModuleKind.ESNext],
      ['bundler', ts.ModuleResolutionKind.Bundler, ts.ModuleKind.ESNext, ts.ModuleKind.ESNext],
    ] as const;
    const resolved: Record<string, string | undefined> = {};
    const expected: Record<string, string> = {};
    for (const [label, moduleResolution, module, mode] of modes) {
      const file = join(nest11, 'src', mode === ts.ModuleKind.ESNext ? 'consumer.mts' : 'consumer.cts');
      for (const [id, target] of [[PACKAGE_NAME, 'dist/index.d.ts'], [`${PACKAGE_NAME}/testing`, 'dist/testing/index.d.ts']] as const) {
        const result = ts.resolveModuleName(id, file, { moduleResolution, module }, ts.sys, undefined, undefined, mode);
        const name = result.resolvedModule?.resolvedFileName;
        resolved[`${label}: ${id}`] = name && realpathSync(name);
        expected[`${label}: ${id}`] = join(installed, target);
      }
    }
    expect(resolved).toEqual(expected);
  });

  /** tsc of a fixture's tsconfig; resolves its version and output. */
  async function tsc(dir: string, tscPackage: string, project: string): Promise<{ version: string; output: string }> {
    const bin = join(dir, 'node_modules', tscPackage, 'bin', 'tsc');
    const version = (await runOk(process.execPath, [bin, '--version'], { cwd: dir, timeoutMs: MINUTE })).stdout.trim();
    const { output } = await runOk(process.execPath, [bin, '-p', project], { cwd: dir, timeoutMs: 3 * MINUTE });
    return { version, output: output.trim() };
  }

  /** `TypeScript | ≥ 5.0 …` in the README's Requirements table. */
  function promisedTypeScript(): string {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const row = /^\|\s*TypeScript\s*\|\s*≥\s*(\d+\.\d+)/m.exec(readme);
    if (!row) throw new Error('README.md has no "| TypeScript | ≥ X.Y" row in its Requirements table');
    return row[1]!;
  }

  it.each(['tsconfig.node10.json', 'tsconfig.node16.json', 'tsconfig.nodenext.json'])(
    'the declarations compile with NestJS 11 on the lowest TypeScript the README promises (%s, skipLibCheck off)',
    async (project) => {
      const { version, output } = await tsc(nest11, 'typescript', project);
      expect(version).toBe(`Version ${promisedTypeScript()}.${version.split('.')[2]}`);
      expect(output).toBe('');
    },
    5 * MINUTE,
  );

  it.each([
    ['typescript', 'tsconfig.esm-node16.json'],
    ['typescript', 'tsconfig.esm-nodenext.json'],
    ['typescript-5.8', 'tsconfig.full-nodenext.json'],
  ])('the declarations compile with NestJS 12 (%s, %s)', async (tscPackage, project) => {
    const { version, output } = await tsc(nest12, tscPackage, project);
    expect(version).toMatch(tscPackage === 'typescript' ? new RegExp(`^Version ${promisedTypeScript().replace('.', '\\.')}\\.`) : /^Version 5\.8\./);
    expect(output).toBe('');
  }, 5 * MINUTE);
});
