// WGSL files are imported as text; esbuild inlines them (loader 'text') for Node and the browser alike.
declare module '*.wgsl' {
  const source: string;
  export default source;
}
