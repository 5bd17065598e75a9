#!/usr/bin/env node
import('../dist/src/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('oasys-migrate: the TypeScript build is missing; run `npm run build` (npm ci does it).\n');
    process.exit(3);
  }
  throw err;
});
