#!/usr/bin/env node
// See src/study/ for what this runner does; `node runners/trajectory.js --help` lists its flags.
import { trajectoryMain } from '../dist/engine.js';

await trajectoryMain();
