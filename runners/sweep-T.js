#!/usr/bin/env node
// See src/study/ for what this runner does; `node runners/sweep-T.js --help` lists its flags.
import { sweepMain } from '../dist/engine.js';

await sweepMain();
