#!/usr/bin/env node
// See src/study/judge.ts for what this runner does; `node runners/mnist-classifier.js --help` lists its flags.
import { classifierMain } from '../dist/engine.js';

await classifierMain();
