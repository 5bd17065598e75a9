import type { TestProject } from 'vitest/node';
import { startEmbeddedServer } from '../../src/embedded/server.js';
import { startMajors, type Major, type MajorServer } from './majors.js';

/**
 * One PostgreSQL for the whole run: the one named by OASYS_TEST_DATABASE_URL,
 * or an embedded 17 started here and stopped afterwards. Each test file then
 * creates its own database on it (test/support/db.ts). Besides it, one server
 * of every supported major (14–18, test/support/majors.ts) for
 * test/majors.test.ts; one that cannot be started is reported there as a
 * failing test, never skipped.
 */
export default async function setup(project: TestProject) {
  const external = process.env.OASYS_TEST_DATABASE_URL;
  const main = external ? undefined : await startEmbeddedServer({ quiet: true, logical: true });
  const mainUrl = external ?? main!.url;
  project.provide('pgAdminUrl', mainUrl);
  const majors = await startMajors(main?.url);
  project.provide('pgMajors', majors.servers);
  return async () => {
    majors.stop();
    await main?.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    /** A server per supported major version, or why it is missing. */
    pgMajors: Record<Major, MajorServer>;
  }
}
