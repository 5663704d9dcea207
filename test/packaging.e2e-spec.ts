/**
 * The package manifest, checked against what npm publishes and what Node and TypeScript make of it: every bare
 * import of dist/ is declared, the exports map sends require to the CommonJS build (dist/) and import to the
 * ES-module build (dist/esm/), each with its own declarations (an importer is typed as what Node gives it), a
 * process that loads both builds is told so once, the tarball holds only the built files, the declarations compile
 * on the lowest TypeScript the README promises, and the tools library authors run before publishing
 * (@arethetypeswrong/cli and publint) find no problem in the tarball.
 */
import { builtinModules } from 'node:module';
import { mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import * as ts from 'typescript';
import { dryRunPack, PackedFile, PackedTarball, PACKAGE_NAME, packTarball, prepareConsumer, ROOT, run, runOk } from './support/npm-package';
import { nodeRuntimes } from './support/runtimes';

const MINUTE = 60_000;

interface Manifest {
  name: string;
  main: string;
  types: string;
  type?: string;
  exports: Record<string, string | Record<string, Record<string, string>>>;
  typesVersions: Record<string, Record<string, string[]>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;

/**
 * Every entry point: its subpath and its module under dist/ (dist/X.js and dist/X.d.ts CommonJS, dist/esm/X.js and
 * dist/esm/X.d.ts ES module). A new subpath export is one more line here, beside its entry in package.json.
 */
const ENTRIES: ReadonlyArray<readonly [subpath: string, module: string]> = [
  ['.', 'index'],
  ['./testing', 'testing/index'],
  ['./health', 'health/index'],
];

/** `nestjs-wecom-token`, `nestjs-wecom-token/testing`, … */
const specifierOf = (subpath: string) => (subpath === '.' ? PACKAGE_NAME : `${PACKAGE_NAME}/${subpath.slice(2)}`);

/** The warning a process gets when it loads both builds (lib/single-copy.ts). */
const DUAL_PACKAGE_WARNING = 'NESTJS_WECOM_TOKEN_CJS_AND_ESM';

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
  for (const pattern of patterns) for (const match of source.matchAll(pattern)) found.push(match[1]);
  return found;
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
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
    const optional = Object.entries(manifest.peerDependenciesMeta ?? {})
      .filter(([, meta]) => meta.optional)
      .map(([name]) => name);
    expect(optional).toEqual(expect.arrayContaining(['@nestjs/schedule', '@opentelemetry/api', '@nestjs/event-emitter', '@nestjs/terminus']));
    // A subpath that exists for one optional peer imports it at the top: only applications that use it load it.
    const subpathOf: Record<string, string> = { '@nestjs/terminus': 'dist/health/' };
    for (const file of distFiles.filter((f) => f.endsWith('.js'))) {
      const source = readFileSync(join(ROOT, file), 'utf8');
      for (const name of optional) {
        if (subpathOf[name] && file.replace(/^dist\/esm\//, 'dist/').startsWith(subpathOf[name])) continue;
        // A top-level `require("…")` or static `import` of an optional peer (TypeScript's emit of a static import)
        // would fail to load without it.
        const quoted = `["']${name.replace('/', '\\/')}["']`;
        const topLevel = new RegExp(`^(const|var|let) .*= require\\(${quoted}\\)|^import .*from ${quoted}|^import ${quoted}`, 'm').test(source);
        expect({ file, topLevel }).toEqual({ file, topLevel: false });
      }
    }
  });

  it('npm pack lists only the two builds, their declarations, README.md, CHANGELOG.md, docs/*.md, LICENSE and package.json', async () => {
    const files: PackedFile[] = await dryRunPack();
    const paths = files.map((f) => f.path).sort();
    const unexpected = paths.filter(
      (p) =>
        !/^dist\/.+\.(js|d\.ts)$/.test(p) && !/^docs\/[A-Za-z0-9-]+\.md$/.test(p) && !['README.md', 'CHANGELOG.md', 'LICENSE', 'package.json', 'dist/esm/package.json'].includes(p),
    );
    expect(unexpected).toEqual([]);
    // Every relative link of the README and of the docs pages points at a file in the package: read from
    // node_modules, a link to docs/… or to CHANGELOG.md opens.
    const broken: string[] = [];
    for (const page of paths.filter((p) => p.endsWith('.md'))) {
      for (const [, target] of readFileSync(join(ROOT, page), 'utf8').matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/i.test(target)) continue;
        const resolved = join(dirname(page), target).replace(/\\/g, '/');
        if (!paths.includes(resolved) && !resolved.startsWith('bench/') && !resolved.startsWith('test/') && !resolved.startsWith('sample/') && !resolved.startsWith('lib/'))
          broken.push(`${page} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
    expect(paths.filter((p) => /\.(spec|e2e-spec|test)\.|\.map$|\.tsbuildinfo$|^(lib|test|sample|bench|scripts)\//.test(p))).toEqual([]);
    const entries = ENTRIES.flatMap(([, module]) => [`dist/${module}.js`, `dist/esm/${module}.js`, `dist/${module}.d.ts`, `dist/esm/${module}.d.ts`]);
    expect(paths).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json', 'dist/esm/package.json', ...entries]));
    // Every module of either build ships with its own declarations, and the two builds hold the same modules.
    const cjs = paths.filter((p) => /\.(js|d\.ts)$/.test(p) && !p.startsWith('dist/esm/'));
    const esm = paths.filter((p) => p.startsWith('dist/esm/') && /\.(js|d\.ts)$/.test(p));
    for (const js of [...cjs, ...esm].filter((p) => p.endsWith('.js'))) expect(paths).toContain(js.replace(/\.js$/, '.d.ts'));
    expect(esm.map((p) => p.replace(/^dist\/esm\//, 'dist/'))).toEqual(cjs);
    // Everything built (minus specs) ships.
    const built = distFiles.filter((f) => /\.(js|d\.ts)$|^dist\/esm\/package\.json$/.test(f) && !/\.spec\./.test(f));
    expect(paths.filter((p) => p.startsWith('dist/'))).toEqual(built.sort());
  });

  it('dist/ is CommonJS and dist/esm/ is ES modules, as Node decides by the nearest package.json', () => {
    expect(JSON.parse(readFileSync(join(ROOT, 'dist', 'esm', 'package.json'), 'utf8'))).toEqual({ type: 'module' });
    // Said, not left to Node's detection: the root (dist/) is CommonJS; dist/esm/package.json overrides it.
    expect(manifest.type).toBe('commonjs');
    for (const file of distFiles.filter((f) => f.endsWith('.js'))) {
      const source = readFileSync(join(ROOT, file), 'utf8');
      const format = /^Object\.defineProperty\(exports, "__esModule"/m.test(source) ? 'CommonJS' : /^(import|export) /m.test(source) ? 'ES module' : 'unknown';
      expect({ file, format }).toEqual({ file, format: file.startsWith('dist/esm/') ? 'ES module' : 'CommonJS' });
    }
  });

  it('package.json points main, types, exports and typesVersions at shipped files', () => {
    expect(manifest.name).toBe(PACKAGE_NAME);
    expect(manifest.main).toBe('./dist/index.js');
    expect(manifest.types).toBe('./dist/index.d.ts');
    // Each condition with its own declarations: an importer gets the ES-module ones (dist/esm/package.json makes
    // them ES-module declarations), so TypeScript refuses what Node refuses (a default import, for one).
    const conditions = (module: string) => ({
      import: { types: `./dist/esm/${module}.d.ts`, default: `./dist/esm/${module}.js` },
      require: { types: `./dist/${module}.d.ts`, default: `./dist/${module}.js` },
    });
    expect(manifest.exports).toEqual({ ...Object.fromEntries(ENTRIES.map(([subpath, module]) => [subpath, conditions(module)])), './package.json': './package.json' });
    // TypeScript takes the first condition that matches: `types` must come before `default`.
    for (const [subpath] of ENTRIES) {
      for (const condition of Object.values(manifest.exports[subpath] as Record<string, Record<string, string>>)) expect(Object.keys(condition)[0]).toBe('types');
    }
    // moduleResolution node10 knows no exports: typesVersions maps the subpaths to the same declarations.
    expect(manifest.typesVersions).toEqual({
      '*': Object.fromEntries(ENTRIES.filter(([subpath]) => subpath !== '.').map(([subpath, module]) => [subpath.slice(2), [`./dist/${module}.d.ts`]])),
    });
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
    for (const [name, set] of [
      ['types-min', (dir: string) => (nest11 = dir)],
      ['types-min-nest12', (dir: string) => (nest12 = dir)],
    ] as const) {
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

  /** What one entry point gave a process: where `require` and `import` resolved it, and the names it exports. */
  interface Loaded {
    required?: string;
    requiredKeys?: string[];
    imported?: string;
    importedKeys?: string[];
    /** Loaded both ways: whether `require` and `import` gave the same classes. */
    sameClasses?: boolean;
  }

  /** What a real Node process started in `dir` got: each entry point loaded in `order`, then the warnings it was given. */
  interface Loading {
    entries: Record<string, Loaded>;
    warnings: Array<{ name: string; code?: string; message: string }>;
    /** stderr, where Node prints the warnings itself. */
    stderr: string;
    deep: string;
    packageJson: string;
  }

  /** Load every entry point in a real Node process started in `dir`: by `require`, by `import`, or both in that order. */
  async function load(dir: string, order: ReadonlyArray<'require' | 'import'>, node = process.execPath): Promise<Loading> {
    const script = `
      import { createRequire } from 'node:module';
      import { fileURLToPath } from 'node:url';
      import { realpathSync } from 'node:fs';
      const warnings = [];
      process.on('warning', (w) => warnings.push({ name: w.name, code: w.code, message: w.message }));
      const require = createRequire(process.cwd() + '/');
      const order = ${JSON.stringify(order)};
      const entries = {};
      for (const id of ${JSON.stringify(ENTRIES.map(([subpath]) => specifierOf(subpath)))}) {
        const entry = (entries[id] = {});
        const got = {};
        for (const how of order) {
          if (how === 'require') {
            got.cjs = require(id);
            entry.required = realpathSync(require.resolve(id));
            entry.requiredKeys = Object.keys(got.cjs).sort();
          } else {
            got.esm = await import(id);
            entry.imported = realpathSync(fileURLToPath(import.meta.resolve(id)));
            entry.importedKeys = Object.keys(got.esm).sort();
          }
        }
        if (got.cjs && got.esm) entry.sameClasses = Object.keys(got.cjs).every((k) => got.esm[k] === got.cjs[k]);
      }
      let deep = 'resolved';
      try { require.resolve('${PACKAGE_NAME}/dist/index.js'); } catch (e) { deep = e.code; }
      const packageJson = require('${PACKAGE_NAME}/package.json').name;
      // Warnings are emitted on a later tick.
      await new Promise((resolve) => setTimeout(resolve, 50));
      console.log(JSON.stringify({ entries, warnings, deep, packageJson }));`;
    const { stdout, stderr } = await runOk(node, ['--input-type=module', '-e', script], { cwd: dir, timeoutMs: MINUTE });
    return { ...JSON.parse(stdout.trim().split('\n').pop()!), stderr };
  }

  it.each([
    ['NestJS 11 (CommonJS)', () => nest11],
    ['NestJS 12 (ES modules; the CommonJS build loads it by require(esm))', () => nest12],
  ])('with %s installed, require resolves . and ./testing to the CommonJS build and import to the ES-module build, each alone without a warning', async (_label, dirOf) => {
    const dir = dirOf();
    const installed = realpathSync(join(dir, 'node_modules', PACKAGE_NAME));
    const required = await load(dir, ['require']);
    const imported = await load(dir, ['import']);
    for (const [subpath, module] of ENTRIES) {
      const id = specifierOf(subpath);
      expect(required.entries[id].required).toBe(join(installed, `dist/${module}.js`));
      expect(imported.entries[id].imported).toBe(join(installed, `dist/esm/${module}.js`));
      // The two builds export the same names (their declarations are emitted from the same sources).
      expect(imported.entries[id].importedKeys).toEqual(required.entries[id].requiredKeys);
    }
    expect(required.entries[PACKAGE_NAME].requiredKeys).toEqual(
      expect.arrayContaining(['WeComTokenModule', 'AccessTokenService', 'WeComClient', 'AccessTokenInterceptor', 'WeComApiError', 'RedisTokenLock']),
    );
    expect(required.entries[`${PACKAGE_NAME}/testing`].requiredKeys).toContain('WeComSimulator');
    for (const loading of [required, imported]) {
      expect(loading.warnings).toEqual([]);
      expect(loading.deep).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
      expect(loading.packageJson).toBe(PACKAGE_NAME);
    }
  });

  it.each([
    [['require', 'import'] as const, 'CommonJS', 'ES module'],
    [['import', 'require'] as const, 'ES module', 'CommonJS'],
  ])('a process that loads both builds (%j) is told once, by name, with what to change', async (order, first, second) => {
    const loading = await load(nest12, order);
    // Both builds really are loaded: two copies of every class, which is what the warning is about.
    for (const [subpath] of ENTRIES) expect(loading.entries[specifierOf(subpath)].sameClasses).toBe(false);
    // One warning for the whole process, though two entry points of each build were loaded.
    expect(loading.warnings).toHaveLength(1);
    const [warning] = loading.warnings;
    expect(warning.code).toBe(DUAL_PACKAGE_WARNING);
    expect(warning.message).toContain(`nestjs-wecom-token is loaded twice in this process: its ${first} build first, then its ${second} build`);
    expect(warning.message).toMatch(/Load it one way only: import it everywhere .*, or require it everywhere/);
    expect(loading.stderr.split(`[${DUAL_PACKAGE_WARNING}]`)).toHaveLength(2);
  });

  it.each([20, 22, 24])(
    'on Node %s with NestJS 12: require and import each load their own build, both together warn once',
    async (major) => {
      const runtime = (await nodeRuntimes([major])).get(major)!;
      const node = join(runtime.binDir, 'node');
      const installed = realpathSync(join(nest12, 'node_modules', PACKAGE_NAME));
      const [required, imported, both] = [await load(nest12, ['require'], node), await load(nest12, ['import'], node), await load(nest12, ['require', 'import'], node)];
      expect(required.entries[PACKAGE_NAME].required).toBe(join(installed, 'dist/index.js'));
      expect(imported.entries[PACKAGE_NAME].imported).toBe(join(installed, 'dist/esm/index.js'));
      expect([required.warnings, imported.warnings]).toEqual([[], []]);
      expect(both.warnings.map((w) => w.code)).toEqual([DUAL_PACKAGE_WARNING]);
    },
    10 * MINUTE,
  );

  it('TypeScript resolves . and ./testing to the declarations of the build Node loads, for require and import, under every module resolution', () => {
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
      // node10 knows no exports (typesVersions: the CommonJS declarations); the others follow the condition.
      const build = mode === ts.ModuleKind.ESNext ? 'dist/esm' : 'dist';
      for (const [id, target] of [
        [PACKAGE_NAME, 'index.d.ts'],
        [`${PACKAGE_NAME}/testing`, 'testing/index.d.ts'],
      ] as const) {
        const result = ts.resolveModuleName(id, file, { moduleResolution, module }, ts.sys, undefined, undefined, mode);
        const name = result.resolvedModule?.resolvedFileName;
        resolved[`${label}: ${id}`] = name && realpathSync(name);
        expected[`${label}: ${id}`] = join(installed, build, target);
      }
    }
    expect(resolved).toEqual(expected);
  });

  it('TypeScript refuses a default import from an ES module, as Node does, and takes named and namespace imports', () => {
    // The symptom the CommonJS declarations gave importers: tsc accepted `import wecom from 'nestjs-wecom-token'`
    // and Node then threw "does not provide an export named 'default'".
    // Beside the fixture in src/ (ignored by git; the fixture's tsconfigs list their files).
    const probe = join(nest11, 'src');
    const files = {
      'default-import.mts': `import wecom from '${PACKAGE_NAME}';\nexport const used = wecom;\n`,
      'named-import.mts': `import { WeComTokenModule } from '${PACKAGE_NAME}';\nimport * as wecom from '${PACKAGE_NAME}';\nimport { WeComSimulator } from '${PACKAGE_NAME}/testing';\nexport const used = [WeComTokenModule, wecom.AccessTokenService, WeComSimulator];\n`,
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(probe, name), text);
    const errors: Record<string, number[]> = {};
    for (const name of Object.keys(files)) {
      const program = ts.createProgram([join(probe, name)], {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        experimentalDecorators: true,
      });
      errors[name] = ts.getPreEmitDiagnostics(program).map((d) => d.code);
    }
    // TS1192: Module '…' has no default export.
    expect(errors).toEqual({ 'default-import.mts': [1192], 'named-import.mts': [] });
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
    return row[1];
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
  ])(
    'the declarations compile with NestJS 12 (%s, %s)',
    async (tscPackage, project) => {
      const { version, output } = await tsc(nest12, tscPackage, project);
      expect(version).toMatch(tscPackage === 'typescript' ? new RegExp(`^Version ${promisedTypeScript().replace('.', '\\.')}\\.`) : /^Version 5\.8\./);
      expect(output).toBe('');
    },
    5 * MINUTE,
  );
});

describe('the packed tarball, as the tools library authors run before publishing see it', () => {
  let packed: PackedTarball;

  beforeAll(async () => {
    packed = await packTarball();
  }, 5 * MINUTE);

  afterAll(() => packed?.remove());

  it(
    '@arethetypeswrong/cli finds no problem: every entry point is typed as the build each resolution loads',
    async () => {
      const bin = join(ROOT, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
      // Exit code 1 on any problem (profile strict: node10, node16 from CommonJS and from ES modules, bundler).
      const result = await run(process.execPath, [bin, packed.tarball, '--format', 'ascii', '--no-color', '--no-emoji'], { cwd: ROOT, timeoutMs: 3 * MINUTE });
      expect({ code: result.code, problems: result.output.includes('No problems found') }).toEqual({ code: 0, problems: true });
      // It looked at every entry point (a tarball it could not read would have none to complain about).
      for (const [subpath] of ENTRIES) {
        const table = result.output.split(`"${specifierOf(subpath)}"\n`)[1]?.split('***')[0] ?? '';
        expect({
          subpath,
          table: table
            .trim()
            .split('\n')
            .map((line) => line.trim()),
        }).toEqual({
          subpath,
          table: ['node10: OK', 'node16 (from CJS): OK (CJS)', 'node16 (from ESM): OK (ESM)', 'bundler: OK'],
        });
      }
    },
    5 * MINUTE,
  );

  it(
    'publint finds no error, warning or suggestion in the tarball',
    async () => {
      const script = `
      import { readFileSync } from 'node:fs';
      import { publint } from 'publint';
      import { formatMessage } from 'publint/utils';
      const data = readFileSync(${JSON.stringify(packed.tarball)});
      const tarball = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
      const { messages, pkg } = await publint({ pack: { tarball }, level: 'suggestion', strict: true });
      console.log(JSON.stringify({ name: pkg.name, messages: messages.map((m) => \`\${m.type} \${m.code}: \${formatMessage(m, pkg, { color: false })}\`) }));`;
      const { stdout } = await runOk(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeoutMs: 3 * MINUTE });
      // The name shows publint read the tarball's package.json.
      expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ name: PACKAGE_NAME, messages: [] });
    },
    5 * MINUTE,
  );
});
