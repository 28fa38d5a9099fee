#!/usr/bin/env node
// See src/study/ for what this runner does; `node runners/guidance.js --help` lists its flags.
import { guidanceMain } from '../dist/engine.js';

await guidanceMain();
