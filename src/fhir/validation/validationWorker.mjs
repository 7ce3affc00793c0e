// Entry of a validation worker thread (validationPool.ts): registers tsx's loader in this thread,
// then runs the TypeScript worker body, so workers need no build step either.
import { register } from 'tsx/esm/api';

register();
await import('./validationWorkerMain.ts');
