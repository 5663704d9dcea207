// Unit specs beside the code (lib/**/*.spec.ts) and e2e tests in test/ (*.e2e-spec.ts).
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  testRegex: ['lib/.*\\.spec\\.ts$', 'test/.*\\.e2e-spec\\.ts$'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/test/consumers/'],
  // lib/ imports with .js extensions (required by its ES-module build); ts-jest reads the .ts sources.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 30000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
