import type { TestProject } from 'vitest/node';
import { startEmbeddedServer } from '../../src/embedded/server.js';
import { debianBinariesPresent, startDebianServer, type DebianServer } from './debianServer.js';

/**
 * One PostgreSQL for the whole run: the one named by OASYS_TEST_DATABASE_URL,
 * or an embedded one started here and stopped afterwards. Each test file then
 * creates its own database on it (test/harness/db.ts).
 */
export default async function setup(project: TestProject) {
  // A second major version: Debian's PostgreSQL 15 when its binaries are on the machine.
  let pg15: DebianServer | undefined;
  if (process.env.OASYS_TEST_PG15 !== '0' && debianBinariesPresent()) pg15 = await startDebianServer();
  project.provide('pg15AdminUrl', pg15?.url ?? '');
  const external = process.env.OASYS_TEST_DATABASE_URL;
  if (external) {
    project.provide('pgAdminUrl', external);
    return () => pg15?.stop();
  }
  const server = await startEmbeddedServer({ quiet: true });
  project.provide('pgAdminUrl', server.url);
  return async () => {
    pg15?.stop();
    await server.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    /** '' when Debian's PostgreSQL 15 binaries are not on this machine. */
    pg15AdminUrl: string;
  }
}
