#!/usr/bin/env node
// See src/study/mnist.ts for what this runner does; `node runners/train-mnist.js --help` lists its flags.
import { mnistMain } from '../dist/engine.js';

await mnistMain();
