#!/usr/bin/env node
// The `dreamos` command: a shim for the launcher, built from src/launcher.cts by `npm run build`.
require('../dist/launcher.cjs');
