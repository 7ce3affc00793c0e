#!/usr/bin/env node
// Runs a TypeScript script (benchmarks, tools) through tsx: `node bin/run-ts.js file.ts args...`.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const [script, ...rest] = process.argv.slice(2);
if (!script) throw new Error('usage: run-ts.js SCRIPT.ts [args...]');
process.argv = [process.argv[0] ?? 'node', script, ...rest];
await import(pathToFileURL(resolve(script)).href);
