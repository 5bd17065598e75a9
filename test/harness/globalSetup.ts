import type { TestProject } from 'vitest/node';
import { startEmbeddedServer } from '../../src/embedded/server.js';

/**
 * One PostgreSQL for the whole run: the one named by OASYS_TEST_DATABASE_URL,
 * or an embedded one started here and stopped afterwards. Each test file then
 * creates its own database on it (test/harness/db.ts).
 */
export default async function setup(project: TestProject) {
  const external = process.env.OASYS_TEST_DATABASE_URL;
  if (external) {
    project.provide('pgAdminUrl', external);
    return;
  }
  const server = await startEmbeddedServer({ quiet: true });
  project.provide('pgAdminUrl', server.url);
  return async () => {
    await server.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}
