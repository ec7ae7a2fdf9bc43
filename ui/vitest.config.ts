import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Component tests in jsdom with Tauri's IPC mocks; Svelte's browser build for mount().
export default defineConfig({
  plugins: [svelte()],
  resolve: { conditions: ['browser'] },
  // tokens.css is read as text by its contrast test (CSS is otherwise left out of tests).
  test: { environment: 'jsdom', include: ['src/**/*.test.ts'], restoreMocks: true, css: { include: [/tokens\.css/] } },
});
