#!/usr/bin/env node
// Entry point for the `ducktier` bin: TypeScript sources run through tsx, so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
await import('../client/cli.ts');
