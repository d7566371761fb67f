// Runs in each test file (vitest.config.ts setupFiles), isolated or not: the helpers' clean-ups after each test.
import { afterEach } from 'vitest';
import { runAfterEachTest } from './helpers/after-test.js';

afterEach(runAfterEachTest);
