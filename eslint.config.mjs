// @ts-check
/**
 * ESLint for lib/, test/, sample/ and bench/ (`npm run lint`, run by `npm test` before jest): ESLint's recommended
 * rules and typescript-eslint's strict-type-checked set, type-aware through the project service (tsconfig.json).
 * Formatting is Prettier's (eslint-config-prettier turns off the rules it owns). Where a rule does not fit this code
 * base it is turned off or tuned below, each with its reason.
 */
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: ['dist/', 'dist-dev/', 'dist-sample/', 'coverage/', 'node_modules/', 'test/consumers/', 'test/runtimes/', '.docs-snippets-*/'],
  },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // The package checks at run time what its types already rule out: options from JavaScript callers, values
      // from WeCom, Redis and other languages' services, regex groups, timers without unref() under fake timers.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // The same: String() / Number() of a value whose run-time type may differ from its declared one (node-redis 4 and 5).
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      // Messages show whatever a caller or WeCom sent, as String() prints it; the leak tests stringify objects on purpose.
      '@typescript-eslint/no-base-to-string': 'off',
      // Query parameters, headers and environments are maps keyed by name: deleting a key is the operation.
      '@typescript-eslint/no-dynamic-delete': 'off',
      // `const { omitted: _, ...rest } = value` is how a key is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // `!` marks a value a check just above guarantees (a length, a regex match, a map entry set a line before).
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Numbers and booleans in messages read as they should; anything else must be turned into text on purpose.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `() => this.detach(axios)` and `finish(…)` returned from a void function are this code base's idiom.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true }],
      // Nest modules are classes with a decorator and static forRoot()s, often with an empty body.
      '@typescript-eslint/no-extraneous-class': ['error', { allowWithDecorator: true, allowStaticOnly: true, allowEmpty: true }],
      // `async` is how interface methods (TokenLock, PermanentCodeStore, release functions) return a promise here.
      '@typescript-eslint/require-await': 'off',
      // Abort reasons and rethrown failures are whatever came in (unknown), passed on as they are.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true, allowThrowingAny: true }],
      // Loaders of optional peers return the caller's view of the module they load, on purpose.
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
      // Nest's option types are classes (NestApplicationContextOptions, …) that every Nest application passes as literals.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
    },
  },
  {
    // Tests read JSON answers and use jest's asymmetric matchers (expect.any()), both typed any: the assertions on
    // them are the check.
    files: ['test/**/*.ts', 'lib/**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // The plain JavaScript (bench, the fleet workers, the jest config and reporter, build scripts) is CommonJS
    // (package.json "type": "commonjs") without types to check.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
