#!/usr/bin/env -S node --optimize-for-size --initial-heap-size=100
import v8 from 'node:v8';

// Memory before speed: the tool's own JavaScript is never its bottleneck (the server is), and at
// 10,000 tenants V8's default heap growth nearly doubles the peak memory for nothing (BENCHMARKS.md).
// The shebang passes the flags at start-up (best: an initial heap of 100 MB spares discovery at 10,000
// tenants a dozen full collections); `node bin/oasys-migrate.js` gets the first one here, a little later.
if (!process.execArgv.includes('--optimize-for-size')) v8.setFlagsFromString('--optimize-for-size');

import('../dist/src/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && /dist[\\/]src[\\/]cli[\\/]main\.js/.test(String(err.message))) {
    process.stderr.write(
      'oasys-migrate: the TypeScript build is missing; in a checkout run `npm run build` (npm test, npm run demo and npm pack build first).\n',
    );
    process.exit(3);
  }
  throw err;
});
