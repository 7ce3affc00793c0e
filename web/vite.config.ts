/**
 * The portal's build: a React app served by the node under /portal/ (src/portal/serveWebApp.ts).
 * `npm run build:web` writes web/dist. The access-report check imports
 * src/verify/standaloneReportCheck.ts from the repository (viem only), so the browser runs the
 * very code `medledger verify --bundle` runs.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/portal/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
  },
  server: { fs: { allow: ['..'] } },
});
