/**
 * `@kiln/transport-ws`: Kiln over WebSocket, with a uWebSockets.js listener and a dialer on `ws`
 * in Node and the native `WebSocket` in browsers.
 *
 * Not built yet: this package holds its place in the workspace and its dependencies until the
 * WebSocket issue lands. Use `@kiln/transport-tcp` meanwhile.
 *
 * @packageDocumentation
 */
export {};
