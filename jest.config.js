/** Jest runs the TypeScript sources as ES modules through SWC (Agenda 6 is ESM-only). */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 60000,
  // Process tests run the compiled dist/, as npm start does; built here so no test's timeout pays for tsc.
  globalSetup: '<rootDir>/tests/helpers/build-before-tests.mjs',
  // Each file starts its own database; two at a time fits a 2-core machine.
  maxWorkers: 2,
};
