'use strict';
/**
 * Loads one of the test suite's TypeScript support files (test/support/*.ts: the forward proxy, the TLS front) into a
 * bench part, so the benchmarks run the very servers the tests run rather than copies. The file is transpiled with
 * the repository's TypeScript (CommonJS, no type check) and compiled in memory; it may import only node: modules.
 */
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');

const loaded = new Map();

function loadTestSupport(name) {
  const file = path.join(__dirname, '..', 'test', 'support', `${name}.ts`);
  if (loaded.has(file)) return loaded.get(file);
  const ts = require('typescript');
  const { outputText } = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: file,
  });
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  m._compile(outputText, file);
  loaded.set(file, m.exports);
  return m.exports;
}

module.exports = { loadTestSupport };
