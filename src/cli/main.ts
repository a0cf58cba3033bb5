#!/usr/bin/env node
import { runCli } from './run-cli.js';

// The bin stays this thin so tests can run every command in-process through runCli.
process.exitCode = await runCli(process.argv.slice(2));
