// Stylesheets are imported for their side effect; Vite bundles them into one file under dist/renderer/assets/.
declare module '*.css';
