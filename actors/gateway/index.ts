/** The gateway actor: JSON-RPC 2.0 over HTTP for one participant. */
export { startGateway, type Gateway, type GatewayOptions } from './gateway.js';
