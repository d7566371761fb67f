// Display-safe text lives in core/display-text.ts (core/ may use it without importing an adapter); printing code
// imports it from here.
export * from '../core/display-text.js';
