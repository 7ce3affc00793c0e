/**
 * The portal's build: a React app served by the node under /portal/ (src/portal/serveWebApp.ts).
 * `npm run build:web` writes web/dist. The app reaches src/ only through src/portal/PortalApi.ts
 * (the portal API's shapes and a few pure helpers, `.dependency-cruiser.cjs`); the access-report
 * check is src/verify/standaloneReportCheck.ts (viem only), so the browser runs the very code
 * `medledger verify --bundle` runs.
 */
import { join, sep } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * What the app reaches of src/ is PortalApi.ts and the pure modules it re-exports (the
 * BROWSER_SAFE list of .dependency-cruiser.cjs), none with side effects: so a chunk gets only the
 * helpers it uses (the sign-in screen's bundle carries neither viem nor the report check).
 */
const NODE_SOURCES = `${join(import.meta.dirname, '..', 'src')}${sep}`;

export default defineConfig({
  root: import.meta.dirname,
  base: '/portal/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
    rollupOptions: { treeshake: { moduleSideEffects: (id) => !id.startsWith(NODE_SOURCES) } },
  },
  server: { fs: { allow: ['..'] } },
});
