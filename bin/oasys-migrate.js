#!/usr/bin/env node
import('../dist/src/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && /dist[\\/]src[\\/]cli[\\/]main\.js/.test(String(err.message))) {
    process.stderr.write('oasys-migrate: the TypeScript build is missing; in a checkout run `npm run build` (npm test, npm run demo and npm pack build first).\n');
    process.exit(3);
  }
  throw err;
});
