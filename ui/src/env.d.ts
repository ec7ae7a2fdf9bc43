// Vite's own module types (`?raw` imports, import.meta.env).
/// <reference types="vite/client" />
