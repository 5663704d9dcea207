/**
 * The documentation, as a reader pastes it: every ```ts block of README.md and docs/*.md is written as a standalone
 * module into a temporary project inside the repository (so `nestjs-wecom-token` resolves to this package's built
 * dist/ through its own exports map, and the peers to the repository's node_modules) and compiled in one program, in
 * strict mode. A block preceded by `<!-- snippet: run -->` is also run with Node and must exit 0 (it checks what it
 * shows with node:assert, against the simulator). A failure names the file and the line of the block and of the error.
 *
 * The convention for writers: each ```ts block is a complete module with its own imports; whatever it assumes is
 * declared (`declare const sim: WeComSimulator;`); other blocks are ```sh, ```text or ```json.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as ts from 'typescript';
import { assertBuilt, ROOT, run } from './support/npm-package';

/** The languages a fenced block may have: TypeScript is compiled, the rest is shown as it is. */
const LANGUAGES = new Set(['ts', 'sh', 'text', 'json']);

/** The marker, on the line before a ```ts block, of a block that is run as well as compiled. */
const RUN_MARKER = '<!-- snippet: run -->';

/**
 * Pages that other branches of this wave are writing: a link to one of them is not reported as broken while the
 * page is missing here. Empty this list once they have landed.
 */
const PAGES_IN_FLIGHT = new Set<string>();

interface Block {
  /** README.md or docs/x.md. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  language: string;
  code: string;
  runs: boolean;
}

/** README.md and every page of docs/, relative to ROOT. */
function pages(): string[] {
  const docs = existsSync(join(ROOT, 'docs'))
    ? readdirSync(join(ROOT, 'docs'))
        .filter((name) => name.endsWith('.md'))
        .sort()
        .map((name) => `docs/${name}`)
    : [];
  return ['README.md', ...docs];
}

/** The fenced blocks of one page (an indented fence, inside a list item, loses its indentation). */
function blocksOf(file: string): Block[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})\s*([^\s`]*)/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, language] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !new RegExp(`^\\s*${fence}\\s*$`).test(lines[j]); j++) body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
    const previous = lines
      .slice(0, i)
      .reverse()
      .find((line) => line.trim() !== '');
    blocks.push({ file, line: i + 1, language: language, code: body.join('\n'), runs: previous?.trim() === RUN_MARKER });
    i = j;
  }
  return blocks;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2, … */
function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let inFence = false;
  for (const line of readFileSync(join(ROOT, file), 'utf8').split('\n')) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    const heading = !inFence && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const slug = heading[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count ? `${slug}-${count}` : slug);
  }
  return anchors;
}

/** A page without its fenced blocks (a link inside one is code, not a link). */
function outsideFences(file: string): string {
  let inFence = false;
  return readFileSync(join(ROOT, file), 'utf8')
    .split('\n')
    .filter((line) => {
      if (/^\s*```/.test(line)) inFence = !inFence;
      return !inFence && !/^\s*```/.test(line);
    })
    .join('\n');
}

const blocks = pages().flatMap(blocksOf);
const tsBlocks = blocks.filter((block) => block.language === 'ts');
const where = (block: Block) => `${block.file}:${block.line}`;

describe('README.md and docs/', () => {
  it('the README is read in five minutes: under 200 lines, the two commands at the top', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
    expect(readme.length).toBeLessThan(200);
    const top = readme.slice(0, 15).join('\n');
    expect(top).toContain('npm install && npm start');
    expect(top).toContain('npm install && npm test');
  });

  it('every fenced block says its language, one of ts, sh, text, json', () => {
    expect(blocks.filter((block) => !LANGUAGES.has(block.language)).map((block) => `${where(block)}: \`\`\`${block.language}`)).toEqual([]);
    // The scan found the blocks (a broken pattern would pass the check above vacuously).
    expect(tsBlocks.length).toBeGreaterThan(20);
  });

  it('every local link points at a file that exists, and an anchor at a heading of it', () => {
    const broken: string[] = [];
    for (const file of pages()) {
      const text = outsideFences(file);
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target)) continue;
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const resolved = path
          ? relative(ROOT, join(ROOT, dirname(file), path))
              .split('\\')
              .join('/')
          : file;
        if (!existsSync(join(ROOT, resolved))) {
          if (!PAGES_IN_FLIGHT.has(resolved)) broken.push(`${file}: (${target}) → no ${resolved}`);
          continue;
        }
        if (anchor && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor)) broken.push(`${file}: (${target}) → no heading #${anchor} in ${resolved}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('every ```ts block of README.md and docs/, as pasted', () => {
  let project: string;
  /** The emitted JavaScript of each runnable block, by its source file. */
  const emitted = new Map<Block, string>();
  let diagnostics: string[];

  beforeAll(() => {
    assertBuilt();
    // Inside the repository, without a package.json of its own: `nestjs-wecom-token` is this package by its name
    // (Node and TypeScript resolve a package's own name through its exports map), the peers are in ROOT/node_modules.
    project = mkdtempSync(join(ROOT, '.docs-snippets-'));
    mkdirSync(join(project, 'src'));
    const fileOf = new Map<string, Block>();
    for (const block of tsBlocks) {
      const name = join(project, 'src', `${block.file.replace(/\W+/g, '-')}-${block.line}.ts`);
      writeFileSync(name, `${block.code}\n`);
      fileOf.set(name, block);
    }
    // The NestJS starter's settings (jest's globals included, as its tests have them), with strict on.
    const program = ts.createProgram([...fileOf.keys()], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2022.d.ts'],
      types: ['node', 'jest'],
      strict: true,
      isolatedModules: true,
      esModuleInterop: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      skipLibCheck: true,
      rootDir: join(project, 'src'),
      outDir: join(project, 'out'),
    });
    diagnostics = [];
    for (const [name, block] of fileOf) {
      const source = program.getSourceFile(name)!;
      if (!ts.isExternalModule(source)) diagnostics.push(`${where(block)}: not a module (no import or export): give it the imports it needs`);
      for (const diagnostic of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
        const { line } = source.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
        diagnostics.push(
          `${block.file}:${block.line + 1 + line} (block at line ${block.line}): TS${diagnostic.code} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`,
        );
      }
      if (block.runs) {
        program.emit(source);
        emitted.set(block, join(project, 'out', relative(join(project, 'src'), name).replace(/\.ts$/, '.js')));
      }
    }
  }, 120_000);

  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('compile in strict mode against the built package', () => {
    expect(diagnostics).toEqual([]);
  });

  it('the runnable ones are there: at least the quick start against the simulator', () => {
    expect([...emitted.keys()].map((block) => block.file)).toEqual(expect.arrayContaining(['docs/testing.md']));
  });

  it.each(tsBlocks.filter((block) => block.runs).map((block) => [where(block), block] as const))(
    '%s runs to the end',
    async (_where, block) => {
      const result = await run(process.execPath, [emitted.get(block)!], { cwd: project, timeoutMs: 60_000 });
      expect({ code: result.code, output: result.code === 0 ? '' : result.output }).toEqual({ code: 0, output: '' });
    },
    90_000,
  );
});
