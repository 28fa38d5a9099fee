#!/usr/bin/env node
// See src/study/report.ts for what this runner does; `node runners/report.js --help` lists its flags.
import { reportMain } from '../dist/engine.js';

await reportMain();
